import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import type { SystemTx, TenantTx } from '../storage/database.ts';
import type { JobState } from '../storage/tables.ts';
import { DEFAULT_MAX_ATTEMPTS, type JobDefinition } from './job-definition.ts';
import { type JobFilter, type JobRecord, jobStore } from './job-store.ts';

const LIST_LIMIT = 100;

/**
 * How services create, cancel and list durable jobs, inside their own transactions: a job enqueued with the
 * request's audit entry exists exactly when the request committed. Tenant jobs go through the tenant's
 * transaction (row-level security applies); system jobs and cross-tenant listing need a system one.
 */
export function createJobQueue(deps: { clock: Clock }) {
  const { clock } = deps;
  return {
    /** Queues a job of `definition`'s kind; the payload is checked against its schema. Resolves with its id. */
    async enqueue<P, C>(
      tx: TenantTx | SystemTx,
      definition: JobDefinition<P, C>,
      job: { tenantId: string | null; payload: P; requestedBy?: string | null; runAfter?: number },
    ): Promise<string> {
      const id = newId();
      const now = clock.now();
      await jobStore.insert(tx, {
        id,
        tenantId: job.tenantId,
        kind: definition.kind,
        payload: definition.payload.parse(job.payload),
        maxAttempts: definition.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        runAfter: job.runAfter ?? now,
        requestedBy: job.requestedBy ?? null,
        now,
      });
      return id;
    },

    /** Cancels a queued job, or asks its handler to stop; the state after, or undefined if none was active. */
    cancel(tx: TenantTx | SystemTx, tenantId: string | null, id: string): Promise<JobState | undefined> {
      return jobStore.requestCancel(tx, tenantId, id, clock.now());
    },

    get(tx: TenantTx | SystemTx, tenantId: string | null, id: string): Promise<JobRecord | undefined> {
      return jobStore.get(tx, tenantId, id);
    },

    /** One tenant's jobs (or the system's), newest first, filtered by kind and state; at most 100 a page. */
    list(
      tx: TenantTx | SystemTx,
      filter: Omit<JobFilter, 'limit' | 'tenantId'> & { tenantId: string | null; limit?: number },
    ): Promise<JobRecord[]> {
      return jobStore.list(tx, { ...filter, limit: Math.min(filter.limit ?? LIST_LIMIT, LIST_LIMIT) });
    },

    /** Every tenant's jobs and the system's, for operators. */
    listAll(tx: SystemTx, filter: Omit<JobFilter, 'limit'> & { limit?: number }): Promise<JobRecord[]> {
      return jobStore.list(tx, { ...filter, limit: Math.min(filter.limit ?? LIST_LIMIT, LIST_LIMIT) });
    },
  };
}

export type JobQueue = ReturnType<typeof createJobQueue>;
