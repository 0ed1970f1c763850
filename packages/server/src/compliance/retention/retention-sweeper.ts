import { setTimeout as pause } from 'node:timers/promises';
import type { RetentionPlanBody } from '@parley/protocol';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import type { ScheduledTask, TaskContext } from '../../jobs/index.ts';
import type { MessageAttachments } from '../../messaging/message-attachments.ts';
import type { MessageFanout } from '../../messaging/message-fanout.ts';
import type { MessageIndex } from '../../messaging/message-index.ts';
import type { Storage, SystemTx, TenantTx } from '../../storage/database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { LegalHoldService } from './legal-hold-service.ts';
import { retentionCandidates, type SweepScope } from './retention-candidates.ts';
import { planRetention } from './retention-plan.ts';
import { type SweepStep, sweepSteps, type SweptRule } from './retention-rules.ts';
import { type ExpiryHint, retentionDeletion } from './retention-deletion.ts';
import type { RetentionService } from './retention-service.ts';

/** Every fifteen minutes: the "sweep interval" of docs/privacy.md. */
export const RETENTION_SWEEP_CRON = '*/15 * * * *';
export const RETENTION_SWEEP_INTERVAL_MS = 15 * 60_000;
/** Rows per transaction: small enough that a batch holds a dialog's lock (and SQLite's writer) briefly. */
export const RETENTION_BATCH = 200;
/** Messages per transaction: each takes more statements (files, search, events) than a row of the others. */
export const RETENTION_MESSAGE_BATCH = 25;

/**
 * After each batch the sweeper pauses as long as the batch took (capped), so it holds the writer (SQLite's one
 * connection, a dialog's lock) at most about half of the time: a send waits behind one batch at most, not
 * behind a run of them (a yield alone let several batches through before a send's next step ran).
 */
const PAUSE_PER_BATCH_TIME = 1;
/** Candidates read for a dialog-locked batch, as a multiple of its size (one dialog's are taken). */
const CANDIDATE_WINDOW = 8;
const MAX_PAUSE_MS = 500;

/** What one tenant's sweep deleted per rule: the receipt's body. */
export type SweepCounts = Partial<Record<SweepStep, { count: number; firstId: string; lastId: string }>>;

export interface RetentionSweeperDeps {
  storage: Storage;
  clock: Clock;
  audit: AuditLog;
  rules: Pick<RetentionService, 'rulesIn' | 'overridesIn'>;
  holds: Pick<LegalHoldService, 'heldIn'>;
  fanout: MessageFanout;
  index: MessageIndex;
  attachments: MessageAttachments;
  eraseAttachments: (tx: TenantTx, tenantId: string, ids: readonly string[]) => Promise<number>;
  batchSize?: number;
}

/**
 * The retention sweeper (issue 14): once cluster-wide under the scheduler's lease, it deletes in every
 * tenant what its rules expired, rule by rule, in batches of one transaction each. Each batch checks the
 * lease (the fence) in its own transaction, deletes whole messages only (a message, its events, reactions,
 * files and search entry go together, with a sequenced `deleted` event), adds its counts to the tenant's
 * sweep row, and commits; between batches the sweeper pauses as long as the batch took, so sends are not stalled.
 * An interrupted sweep resumes at the next run from what is left (nothing is half done) and its counts stay
 * on the unfinished sweep row, which becomes the deletion receipt in the audit log when the tenant is done.
 */
export function createRetentionSweeper(deps: RetentionSweeperDeps) {
  const { storage, clock, audit } = deps;
  const limitOf = (rule: SweepStep) =>
    deps.batchSize ??
    (rule === 'messages' || rule === 'messageTombstones' ? RETENTION_MESSAGE_BATCH : RETENTION_BATCH);
  const deletion = retentionDeletion(deps);
  const dialogLocked = (rule: SweepStep) => rule === 'messages' || rule === 'messageTombstones';
  /** Candidates read per batch: for dialog-locked rules a wider window, from which one dialog's are taken. */
  const windowOf = (rule: SweepStep) => limitOf(rule) * (dialogLocked(rule) ? CANDIDATE_WINDOW : 1);

  async function scopeIn(tx: TenantTx, tenantId: string): Promise<SweepScope> {
    return {
      tenantId,
      rules: await deps.rules.rulesIn(tx, tenantId),
      overrides: await deps.rules.overridesIn(tx, tenantId),
      held: await deps.holds.heldIn(tx, tenantId),
      now: clock.now(),
    };
  }

  async function openSweep(tx: TenantTx, tenantId: string) {
    const open = await tx
      .selectFrom('retention_sweeps')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('finished_at', 'is', null)
      .orderBy('started_at')
      .executeTakeFirst();
    if (open) return open;
    const row = {
      id: newId(),
      tenant_id: tenantId,
      started_at: clock.now(),
      finished_at: null,
      counts: '{}',
    };
    await tx.insertInto('retention_sweeps').values(row).execute();
    return row;
  }

  async function addCounts(tx: TenantTx, sweepId: string, rule: SweepStep, ids: readonly string[]) {
    const row = await tx
      .selectFrom('retention_sweeps')
      .select('counts')
      .where('id', '=', sweepId)
      .executeTakeFirstOrThrow();
    const counts = JSON.parse(row.counts) as SweepCounts;
    const sorted = [...ids].sort();
    const before = counts[rule];
    const first = sorted[0] ?? '';
    const last = sorted.at(-1) ?? '';
    counts[rule] = {
      count: (before?.count ?? 0) + ids.length,
      firstId: before && before.firstId < first ? before.firstId : first,
      lastId: before && before.lastId > last ? before.lastId : last,
    };
    await tx
      .updateTable('retention_sweeps')
      .set({ counts: JSON.stringify(counts) })
      .where('id', '=', sweepId)
      .execute();
  }

  /**
   * One batch of one rule in one transaction with the fence. Messages and tombstones are deleted under their
   * dialog's lock, so their batch is taken from one dialog (the one with the oldest candidate, among a window
   * of candidates): a batch spread over twenty dialogs held twenty locks that sends wait on (PostgreSQL
   * deleted 44 messages a second so). Resolves with how many candidates the window held and how many of
   * them were deleted.
   */
  async function batch(tenantId: string, rule: SweepStep, fence: TaskContext['fence'] | undefined) {
    const hints: ExpiryHint[] = [];
    const outcome = await storage.withSystem(async (system: SystemTx) => {
      if (fence) await fence(system);
      const tx = await storage.enterTenant(system, tenantId);
      const scope = await scopeIn(tx, tenantId);
      if (scope.held.tenant) return { found: 0, deleted: 0 };
      const found = await retentionCandidates[rule](tx, scope, windowOf(rule));
      if (found.length === 0) return { found: 0, deleted: 0 };
      const dialogId = found[0]?.dialogId;
      const rows = (dialogLocked(rule) ? found.filter((row) => row.dialogId === dialogId) : found).slice(
        0,
        limitOf(rule),
      );
      const sweep = await openSweep(tx, tenantId);
      const ids = await deletion[rule](tx, tenantId, rows, hints);
      if (ids.length > 0) await addCounts(tx, sweep.id, rule, ids);
      // What was deleted, not what was asked: a candidate the deletion skips must not keep the loop going.
      return { found: found.length, deleted: ids.length };
    });
    await deletion.announce(tenantId, hints);
    return outcome;
  }

  /** Writes the receipt of the tenant's finished sweep (if it deleted anything) and closes it. */
  async function finish(tenantId: string, fence: TaskContext['fence'] | undefined): Promise<void> {
    await storage.withSystem(async (system) => {
      if (fence) await fence(system);
      const tx = await storage.enterTenant(system, tenantId);
      const open = await tx
        .selectFrom('retention_sweeps')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('finished_at', 'is', null)
        .execute();
      const { rules } = await scopeIn(tx, tenantId);
      for (const sweep of open) {
        const now = clock.now();
        const counts = JSON.parse(sweep.counts) as SweepCounts;
        await audit.append(tx, tenantId, {
          actor: { type: 'system' },
          action: 'retention.sweep_receipt',
          target: { type: 'tenant', id: tenantId },
          outcome: 'success',
          details: {
            sweepId: sweep.id,
            startedAt: new Date(sweep.started_at).toISOString(),
            finishedAt: new Date(now).toISOString(),
            rules: Object.fromEntries(
              Object.entries(counts).map(([rule, value]) => [
                rule,
                // Tombstones go by the message rule (their dialogs' overrides aside, as for messages).
                { rule: rules[rule === 'messageTombstones' ? 'messages' : (rule as SweptRule)], ...value },
              ]),
            ),
          },
        });
        await tx
          .updateTable('retention_sweeps')
          .set({ finished_at: now })
          .where('id', '=', sweep.id)
          .execute();
      }
    });
  }

  async function sweepTenant(
    tenantId: string,
    signal: AbortSignal | undefined,
    fence: TaskContext['fence'] | undefined,
  ): Promise<void> {
    for (const rule of sweepSteps) {
      for (;;) {
        signal?.throwIfAborted();
        const started = performance.now();
        const { found, deleted } = await batch(tenantId, rule, fence);
        // Sends waiting on the event loop or a dialog lock go before the next batch.
        await pause(Math.min((performance.now() - started) * PAUSE_PER_BATCH_TIME, MAX_PAUSE_MS));
        // Done when the window held everything left and this batch took all of it.
        if (deleted === 0 || (found < windowOf(rule) && deleted >= found)) break;
      }
    }
    await finish(tenantId, fence);
  }

  const tenantIds = () =>
    storage.withSystem(async (tx) =>
      (await tx.selectFrom('tenants').select('id').orderBy('id').execute()).map((row) => row.id),
    );

  /** Sweeps every tenant (or one): what the scheduled task runs. */
  async function sweep(
    options: { tenantId?: string; signal?: AbortSignal; fence?: TaskContext['fence'] } = {},
  ): Promise<void> {
    const ids = options.tenantId === undefined ? await tenantIds() : [options.tenantId];
    for (const tenantId of ids) await sweepTenant(tenantId, options.signal, options.fence);
  }

  return {
    sweep,

    /** What the next sweep would delete in a tenant now: counts per rule, and what holds keep. */
    plan: (tenantId: string): Promise<RetentionPlanBody> => planRetention(deps, tenantId),

    /** The scheduled task: every tenant, once cluster-wide, every fifteen minutes. */
    task(): ScheduledTask {
      return {
        name: 'retention.sweep',
        cron: RETENTION_SWEEP_CRON,
        run: async (context) => {
          await sweep({ signal: context.signal, fence: (tx) => context.fence(tx) });
        },
      };
    },
  };
}

export type RetentionSweeper = ReturnType<typeof createRetentionSweeper>;
