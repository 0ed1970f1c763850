import { z } from 'zod';
import { defineJob, JobDeferred, JobError } from '../../jobs/index.ts';
import type { Clock } from '../../clock.ts';
import type { Storage } from '../../storage/database.ts';
import type { LegalHoldService } from '../retention/legal-hold-service.ts';
import { erasureStore } from './erasure-store.ts';
import { erasureProgress, type ErasureSteps } from './erasure-steps.ts';

export const ERASURE_JOB_KIND = 'gdpr_erasure';

const erasureJobPayload = z.object({ erasureId: z.uuid() });

/**
 * The durable job of an erasure (docs/privacy.md, "Erasure"), queued when the erasure is requested with
 * `run_after` at the end of its grace period: cancelling during grace cancels the job. It runs the erasure's
 * steps, committing each batch with its checkpoint, so a run stopped anywhere (restart, crash, lost claim)
 * resumes where it stopped. Tried often: an erasure must finish.
 */
/** While its user is under legal hold an erasure waits, looking again this often (or when the hold ends). */
export const ERASURE_HOLD_RECHECK_MS = 60_000;

export function createErasureJob(
  steps: ErasureSteps,
  legalHold?: { storage: Storage; holds: Pick<LegalHoldService, 'isHeldIn'>; clock: Clock },
) {
  return defineJob({
    kind: ERASURE_JOB_KIND,
    payload: erasureJobPayload,
    progress: erasureProgress,
    maxAttempts: 10,
    async run(context) {
      const tenantId = context.job.tenantId;
      if (tenantId === null) throw new JobError('erasure_failed', 'An erasure job belongs to a tenant.');
      // A legal hold on the user (or the tenant) keeps the erasure waiting, visibly: the job is queued again
      // with code `legal_hold` (no attempt used), and proceeds at the first look after the hold ends.
      if (legalHold && (await userHeld(legalHold, tenantId, context.job.payload.erasureId)))
        throw new JobDeferred(
          'legal_hold',
          'the user is under legal hold; the erasure waits until the hold ends',
          legalHold.clock.now() + ERASURE_HOLD_RECHECK_MS,
        );
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

async function userHeld(
  legalHold: { storage: Storage; holds: Pick<LegalHoldService, 'isHeldIn'> },
  tenantId: string,
  erasureId: string,
): Promise<boolean> {
  return legalHold.storage.withTenant(tenantId, async (tx) => {
    const erasure = await erasureStore.find(tx, tenantId, erasureId);
    return (
      erasure !== undefined &&
      (await legalHold.holds.isHeldIn(tx, tenantId, { type: 'user', id: erasure.user_id }))
    );
  });
}
