import type { z } from 'zod';
import type { SystemTx, TenantTx } from '../storage/database.ts';

/** The job a handler runs, its payload and checkpoint checked against the definition's schemas. */
export interface RunningJob<P, C> {
  readonly id: string;
  readonly kind: string;
  /** Null for a system job. */
  readonly tenantId: string | null;
  /** 1 on the first run; a retry, or a run resumed after its node died, counts one more. */
  readonly attempt: number;
  readonly payload: P;
  /** The last committed checkpoint, or undefined on a fresh start. */
  readonly progress: C | undefined;
  readonly requestedBy: string | null;
}

/** What a job handler is given. */
export interface JobContext<P, C> {
  readonly job: RunningJob<P, C>;
  /**
   * Aborted with an `Interrupted` reason when the job is cancelled (`cancelled`), this node stops
   * (`stopping`: the job is handed back and resumes from its checkpoint) or the claim lapsed (`lost`).
   * Check it between batches and throw it: `signal.throwIfAborted()`.
   */
  readonly signal: AbortSignal;
  /** Whether cancellation was requested (as seen at the last heartbeat or checkpoint). */
  isCancelled(): boolean;
  /**
   * Commits `progress` as the point a later run resumes from, and extends the claim. Given `tx`, it is written
   * in that transaction, so a batch of work and the checkpoint after it commit together or not at all (a
   * system job's checkpoint needs a system transaction; a tenant job's may be in its tenant's). Throws
   * `Interrupted('lost')` (rolling `tx` back) when this node no longer holds the job.
   */
  checkpoint(progress: C, tx?: SystemTx | TenantTx): Promise<void>;
}

/**
 * A kind of durable job. The payload must hold ids and settings only, never personal data in clear (it is a
 * plain JSON column that operators list); the handler reads what it needs by id under the tenant's keys.
 * A handler must be safe to run again from its last checkpoint: a node can die between a batch and the
 * checkpoint after it (unless both commit in one transaction).
 */
export interface JobDefinition<P, C> {
  /** Unique, lower_snake_case (e.g. `gdpr_export`). */
  readonly kind: string;
  readonly payload: z.ZodType<P>;
  readonly progress: z.ZodType<C>;
  /** Runs (including retries and runs lost with their node) before the job is failed. Default 5. */
  readonly maxAttempts?: number;
  /** Resolves when done; throws a `JobError` to fail the attempt with a code operators can read. */
  run(context: JobContext<P, C>): Promise<void>;
}

/** Declares a job kind with its types inferred from the schemas. */
export function defineJob<P, C>(definition: JobDefinition<P, C>): JobDefinition<P, C> {
  return definition;
}

export const DEFAULT_MAX_ATTEMPTS = 5;
export const JOB_KIND = /^[a-z][a-z0-9_]{0,63}$/;
