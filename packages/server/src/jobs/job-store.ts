import type { SystemTx, TenantTx } from '../storage/database.ts';
import type { JobState, JobsTable } from '../storage/tables.ts';

/** A job row as the rest of the code sees it; payload and progress are parsed JSON. */
export interface JobRecord {
  id: string;
  tenantId: string | null;
  kind: string;
  state: JobState;
  payload: unknown;
  progress: unknown;
  attempts: number;
  maxAttempts: number;
  runAfter: number;
  lockedBy: string | null;
  lockedUntil: number | null;
  cancelRequested: boolean;
  errorCode: string | null;
  errorMessage: string | null;
  requestedBy: string | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

/**
 * One claim of a running job: the node that holds it and the attempt it counts as. A node that lost its claim
 * (its lock lapsed and another node took the job) matches no row any more, so none of its writes land.
 */
export interface JobClaim {
  readonly id: string;
  readonly nodeId: string;
  readonly attempt: number;
}

export interface NewJob {
  id: string;
  tenantId: string | null;
  kind: string;
  payload: unknown;
  maxAttempts: number;
  runAfter: number;
  requestedBy: string | null;
  now: number;
}

export interface JobFilter {
  /** A tenant's jobs, or `null` for system jobs; unset (system transactions only) = every job. */
  tenantId?: string | null;
  kind?: string;
  state?: JobState;
  /** Keyset: only jobs older than this id (ids are time-ordered). */
  beforeId?: string;
  limit: number;
}

type Tx = SystemTx | TenantTx;

function toRecord(row: JobsTable): JobRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind,
    state: row.state,
    payload: JSON.parse(row.payload) as unknown,
    progress: row.progress === null ? undefined : (JSON.parse(row.progress) as unknown),
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAfter: row.run_after,
    lockedBy: row.locked_by,
    lockedUntil: row.locked_until,
    cancelRequested: row.cancel_requested === 1,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    requestedBy: row.requested_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}

/** The `jobs` queries. Claims and their follow-ups are compare-and-set on the claim (node id + attempt). */
export const jobStore = {
  async insert(tx: Tx, job: NewJob): Promise<void> {
    await tx
      .insertInto('jobs')
      .values({
        id: job.id,
        tenant_id: job.tenantId,
        kind: job.kind,
        state: 'queued',
        payload: JSON.stringify(job.payload),
        progress: null,
        attempts: 0,
        max_attempts: job.maxAttempts,
        run_after: job.runAfter,
        locked_by: null,
        locked_until: null,
        cancel_requested: 0,
        error_code: null,
        error_message: null,
        requested_by: job.requestedBy,
        created_at: job.now,
        updated_at: job.now,
        finished_at: null,
      })
      .execute();
  },

  async get(tx: Tx, tenantId: string | null, id: string): Promise<JobRecord | undefined> {
    const row = await tx
      .selectFrom('jobs')
      .selectAll()
      .where('id', '=', id)
      .where((eb) => (tenantId === null ? eb('tenant_id', 'is', null) : eb('tenant_id', '=', tenantId)))
      .executeTakeFirst();
    return row === undefined ? undefined : toRecord(row);
  },

  /** Newest first. A tenant transaction must name its tenant; only a system transaction may list all. */
  async list(tx: Tx, filter: JobFilter): Promise<JobRecord[]> {
    let query = tx.selectFrom('jobs').selectAll().orderBy('id', 'desc').limit(filter.limit);
    const { tenantId, kind, state, beforeId } = filter;
    if (tenantId === null) query = query.where('tenant_id', 'is', null);
    if (typeof tenantId === 'string') query = query.where('tenant_id', '=', tenantId);
    if (kind !== undefined) query = query.where('kind', '=', kind);
    if (state !== undefined) query = query.where('state', '=', state);
    if (beforeId !== undefined) query = query.where('id', '<', beforeId);
    return (await query.execute()).map(toRecord);
  },

  /**
   * Claims the oldest due job of the given kinds: a queued one whose time has come, or a running one whose
   * claim lapsed (its node died). One statement; on PostgreSQL `FOR UPDATE SKIP LOCKED` lets concurrent
   * claimers pass each other's candidates instead of queueing on them; SQLite has one writer at a time.
   */
  async claim(
    tx: SystemTx,
    claim: { nodeId: string; kinds: readonly string[]; now: number; lockMs: number },
    dialect: 'sqlite' | 'postgres',
  ): Promise<JobRecord | undefined> {
    if (claim.kinds.length === 0) return undefined;
    const candidate = tx
      .selectFrom('jobs')
      .select('id')
      .where('kind', 'in', claim.kinds)
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'queued'), eb('run_after', '<=', claim.now)]),
          eb.and([
            eb('state', '=', 'running'),
            eb('locked_until', '<=', claim.now),
            eb('attempts', '<', eb.ref('max_attempts')),
          ]),
        ]),
      )
      .orderBy('run_after')
      .orderBy('id')
      .limit(1);
    const row = await tx
      .updateTable('jobs')
      .set((eb) => ({
        state: 'running',
        locked_by: claim.nodeId,
        locked_until: claim.now + claim.lockMs,
        attempts: eb('attempts', '+', 1),
        updated_at: claim.now,
      }))
      .where('id', 'in', dialect === 'postgres' ? candidate.forUpdate().skipLocked() : candidate)
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? undefined : toRecord(row);
  },

  /**
   * Fails running jobs whose claim lapsed on their last attempt: a job that takes its node down every time
   * must not be claimed forever.
   */
  async failAbandoned(tx: SystemTx, now: number): Promise<string[]> {
    const rows = await tx
      .updateTable('jobs')
      .set({
        state: 'failed',
        locked_by: null,
        locked_until: null,
        error_code: 'abandoned',
        error_message: 'the node running the last attempt stopped answering',
        updated_at: now,
        finished_at: now,
      })
      .where('state', '=', 'running')
      .where('locked_until', '<=', now)
      .where((eb) => eb('attempts', '>=', eb.ref('max_attempts')))
      .returning('id')
      .execute();
    return rows.map((row) => row.id);
  },

  /** Extends the claim; resolves with whether cancellation was requested, or undefined if the claim is gone. */
  async heartbeat(
    tx: SystemTx,
    claim: JobClaim,
    lockedUntil: number,
    now: number,
  ): Promise<boolean | undefined> {
    const row = await tx
      .updateTable('jobs')
      .set({ locked_until: lockedUntil, updated_at: now })
      .where('id', '=', claim.id)
      .where('state', '=', 'running')
      .where('locked_by', '=', claim.nodeId)
      .where('attempts', '=', claim.attempt)
      .returning('cancel_requested')
      .executeTakeFirst();
    return row === undefined ? undefined : row.cancel_requested === 1;
  },

  /** Stores the checkpoint and extends the claim, like `heartbeat`. */
  async checkpoint(
    tx: Tx,
    claim: JobClaim,
    progress: unknown,
    lockedUntil: number,
    now: number,
  ): Promise<boolean | undefined> {
    const row = await tx
      .updateTable('jobs')
      .set({ progress: JSON.stringify(progress), locked_until: lockedUntil, updated_at: now })
      .where('id', '=', claim.id)
      .where('state', '=', 'running')
      .where('locked_by', '=', claim.nodeId)
      .where('attempts', '=', claim.attempt)
      .returning('cancel_requested')
      .executeTakeFirst();
    return row === undefined ? undefined : row.cancel_requested === 1;
  },

  /** Ends a claim: finished (succeeded, failed, cancelled) or queued again (a retry, or handed back). */
  async settle(
    tx: SystemTx,
    claim: JobClaim,
    outcome:
      | { state: 'succeeded' | 'cancelled'; now: number }
      | { state: 'failed'; now: number; errorCode: string; errorMessage: string }
      | { state: 'queued'; now: number; runAfter: number; errorCode: string; errorMessage: string }
      | { state: 'deferred'; now: number; runAfter: number; errorCode: string; errorMessage: string }
      | { state: 'released'; now: number },
  ): Promise<boolean> {
    const finished =
      outcome.state === 'succeeded' || outcome.state === 'cancelled' || outcome.state === 'failed';
    const result = await tx
      .updateTable('jobs')
      .set((eb) => ({
        state: outcome.state === 'released' || outcome.state === 'deferred' ? 'queued' : outcome.state,
        locked_by: null,
        locked_until: null,
        updated_at: outcome.now,
        ...(finished ? { finished_at: outcome.now } : {}),
        ...('errorCode' in outcome
          ? { error_code: outcome.errorCode, error_message: outcome.errorMessage }
          : {}),
        ...(outcome.state === 'queued' ? { run_after: outcome.runAfter } : {}),
        // Handed back by a stopping node: the interrupted attempt does not count against the job.
        ...(outcome.state === 'released' ? { run_after: outcome.now, attempts: eb('attempts', '-', 1) } : {}),
        // Deferred (waiting on something outside it, e.g. a legal hold): not an attempt either.
        ...(outcome.state === 'deferred'
          ? { run_after: outcome.runAfter, attempts: eb('attempts', '-', 1) }
          : {}),
      }))
      .where('id', '=', claim.id)
      .where('state', '=', 'running')
      .where('locked_by', '=', claim.nodeId)
      .where('attempts', '=', claim.attempt)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  },

  /**
   * Asks for a job's cancellation: a queued one is cancelled at once, a running one is flagged for its
   * handler (which sees it at its next heartbeat or checkpoint). Resolves with the state after the request,
   * or undefined when no such job is queued or running.
   */
  async requestCancel(
    tx: Tx,
    tenantId: string | null,
    id: string,
    now: number,
  ): Promise<JobState | undefined> {
    const row = await tx
      .updateTable('jobs')
      .set((eb) => ({
        cancel_requested: 1,
        state: eb
          .case()
          .when('state', '=', 'queued')
          .then('cancelled' as JobState)
          .else(eb.ref('state'))
          .end(),
        finished_at: eb.case().when('state', '=', 'queued').then(now).else(eb.ref('finished_at')).end(),
        updated_at: now,
      }))
      .where('id', '=', id)
      .where((eb) => (tenantId === null ? eb('tenant_id', 'is', null) : eb('tenant_id', '=', tenantId)))
      .where('state', 'in', ['queued', 'running'])
      .returning('state')
      .executeTakeFirst();
    return row?.state;
  },
};
