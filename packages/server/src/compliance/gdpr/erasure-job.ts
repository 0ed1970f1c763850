import { z } from 'zod';
import { defineJob, JobError } from '../../jobs/index.ts';
import { erasureProgress, type ErasureSteps } from './erasure-steps.ts';

export const ERASURE_JOB_KIND = 'gdpr_erasure';

const erasureJobPayload = z.object({ erasureId: z.uuid() });

/**
 * The durable job of an erasure (docs/privacy.md, "Erasure"), queued when the erasure is requested with
 * `run_after` at the end of its grace period: cancelling during grace cancels the job. It runs the erasure's
 * steps, committing each batch with its checkpoint, so a run stopped anywhere (restart, crash, lost claim)
 * resumes where it stopped. Tried often: an erasure must finish.
 */
export function createErasureJob(steps: ErasureSteps) {
  return defineJob({
    kind: ERASURE_JOB_KIND,
    payload: erasureJobPayload,
    progress: erasureProgress,
    maxAttempts: 10,
    async run(context) {
      const tenantId = context.job.tenantId;
      if (tenantId === null) throw new JobError('erasure_failed', 'An erasure job belongs to a tenant.');
      await steps.run(
        {
          tenantId,
          erasureId: context.job.payload.erasureId,
          checkpoint: (progress, tx) => context.checkpoint(progress, tx),
          signal: context.signal,
        },
        context.job.progress,
      );
    },
  });
}

export type ErasureJob = ReturnType<typeof createErasureJob>;
