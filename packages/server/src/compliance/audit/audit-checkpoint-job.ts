import type { Clock } from '../../clock.ts';
import type { Storage } from '../../storage/database.ts';
import { NON_TENANT_CHAINS } from './audit-entry.ts';
import type { AuditLog } from './audit-log.ts';
import type { FirstBad } from './audit-verifier.ts';

/**
 * What one pass did: chains signed, chains whose unsigned tail did not verify (left unsigned), and chains
 * whose pass failed with an error (left unsigned; the next pass tries them again). A failure to write the
 * anchor file is reported under the tenant id `*anchors*`.
 */
export interface CheckpointPass {
  signed: number;
  /** Chains whose newest checkpoint was written to the anchor file in this pass. */
  anchored: number;
  refused: { tenantId: string; firstBad: FirstBad }[];
  failed: { tenantId: string; error: unknown }[];
}

/**
 * The time-based audit checkpoint: every chain (each tenant's, then `system`) whose entries after the last
 * signed checkpoint include one older than `intervalSeconds` gets a checkpoint signed at its head. With
 * count-based checkpoints alone, up to 99 entries stay protected by hash links only, which someone who can
 * write the database can recompute; after this pass an entry goes unsigned for at most about two intervals.
 * Safe to run on every node at once: each chain is signed under its head lock (see `checkpointTail`).
 * Chains are independent: one that fails (a row that cannot be hashed, a lock timeout) is reported and the
 * pass goes on, so one broken or tampered chain cannot leave every other tenant's tail unsigned.
 */
export function createAuditCheckpointJob(deps: {
  storage: Storage;
  audit: AuditLog;
  clock: Clock;
  intervalSeconds: number;
}) {
  const { storage, audit, clock, intervalSeconds } = deps;
  let running: Promise<CheckpointPass> | undefined;

  async function pass(): Promise<CheckpointPass> {
    const tenants = await storage.withSystem((tx) => tx.selectFrom('tenants').select('id').execute());
    const unsignedBefore = clock.now() - intervalSeconds * 1000;
    const result: CheckpointPass = { signed: 0, anchored: 0, refused: [], failed: [] };
    const chains = [...tenants.map((tenant) => tenant.id), ...NON_TENANT_CHAINS];
    for (const tenantId of chains) {
      try {
        const chain = await audit.checkpointTail(storage, tenantId, unsignedBefore);
        if (chain.status === 'signed') result.signed += 1;
        if (chain.status === 'refused') result.refused.push({ tenantId, firstBad: chain.firstBad });
      } catch (error) {
        result.failed.push({ tenantId, error });
      }
    }
    // Then every chain's newest checkpoint (from this pass or count-based, all committed) goes outside the
    // database, in one append. A refused chain keeps its last good checkpoint, which is anchored already.
    const refused = new Set(result.refused.map((chain) => chain.tenantId));
    try {
      result.anchored = await audit.anchor(
        storage,
        chains.filter((tenantId) => !refused.has(tenantId)),
      );
    } catch (error) {
      result.failed.push({ tenantId: '*anchors*', error });
    }
    return result;
  }

  return {
    /** One pass over every chain, one short transaction each; while one runs, a second call joins it. */
    run(): Promise<CheckpointPass> {
      running ??= pass().finally(() => {
        running = undefined;
      });
      return running;
    },

    /** Resolves once the pass under way, if any, is over (shutdown waits for it before closing storage). */
    async idle(): Promise<void> {
      // Webhook copies still in flight are not awaited: a receiver that is down would hold shutdown for its
      // whole retry schedule. Nothing is lost for good: after a restart every chain is anchored (and sent)
      // once again.
      await running?.catch(() => undefined);
    },
  };
}

export type AuditCheckpointJob = ReturnType<typeof createAuditCheckpointJob>;
