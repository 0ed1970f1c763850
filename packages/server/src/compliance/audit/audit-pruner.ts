import type { Clock } from '../../clock.ts';
import type { SigningKeys } from '../../crypto/signing-keys.ts';
import type { Storage } from '../../storage/database.ts';
import { GENESIS_HASH, PRUNED_ACTION, prunePayload } from './audit-entry.ts';
import type { AuditLog } from './audit-log.ts';
import { type AuditPruneRow, auditPruneStore, withAuditMaintenance } from './audit-prune-store.ts';
import { auditStore } from './audit-store.ts';
import { checkCheckpoint, checkLink, type FirstBad } from './audit-verifier.ts';

export interface AuditPrunerDeps {
  storage: Storage;
  audit: Pick<AuditLog, 'append'>;
  signingKeys: Pick<SigningKeys, 'sign' | 'verify'>;
  clock: Clock;
  /** The audit log's `checkpointEvery` (the chain format): a checkpoint is due at each multiple. */
  checkpointEvery: number;
  /** Entries read or deleted per transaction (default 500). */
  batchSize?: number;
}

export interface PruneRequest {
  /** Entries that occurred before this (ms) may go; none at or after it ever does. */
  olderThan: number;
  /**
   * The tenant's audit minimum (days): a cut-off later than `now - minimumDays` is refused, so a mistaken
   * rule can never remove entries the tenant promised to keep.
   */
  minimumDays?: number | undefined;
}

/** What one `prune` did. `removed` counts entries deleted by this call (a resumed pruning's leftovers too). */
export type PruneOutcome =
  | { status: 'nothing_due'; removed: number }
  | { status: 'pruned'; throughSeq: number; removed: number }
  /** The segment that would go does not verify: tampering is never pruned away. Nothing was removed. */
  | { status: 'refused'; removed: number; firstBad: FirstBad };

const DAY_MS = 86_400_000;

/**
 * Audit retention (docs/privacy.md, "Audit log retention"): removes a chain's oldest entries in whole
 * signed segments, each ending at a checkpoint. First the segment is verified (links, hashes, checkpoints);
 * then, in one transaction under the chain's head lock, a signed "pruned up to" record naming the last
 * entry's seq and hash is stored and an `audit.pruned` entry appended, so the chain itself says what went;
 * then the entries are deleted in batches. `audit verify` starts from the newest record, so the rest still
 * verifies, and a gap without a genuine record stays a `sequence gap`.
 *
 * Idempotent and resumable: a second call with the same cut-off finds no new segment; a call after one
 * that was interrupted while deleting finishes the deletion first (entries the record covers are not
 * read by `verify`, so the chain verifies at every point in between).
 */
export function createAuditPruner(deps: AuditPrunerDeps) {
  const { storage, clock } = deps;
  const batchSize = deps.batchSize ?? 500;

  async function deleteCovered(tenantId: string, upToSeq: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const n = await withAuditMaintenance(storage, tenantId, (tx) =>
        auditPruneStore.deleteSegment(tx, tenantId, upToSeq, batchSize),
      );
      removed += n;
      if (n < batchSize) return removed;
    }
  }

  /** Recomputes the segment after `from` up to `toSeq` as `audit verify` would. */
  async function verifySegment(
    tenantId: string,
    from: { lastSeq: number; lastHash: string },
    toSeq: number,
  ): Promise<FirstBad | undefined> {
    const state = { ...from };
    while (state.lastSeq < toSeq) {
      const { rows, checkpoints } = await storage.withTenant(tenantId, async (tx) => {
        const read = await auditStore.readEntriesAfter(tx, tenantId, state.lastSeq, batchSize);
        const upTo = Math.min(read.at(-1)?.seq ?? toSeq, toSeq);
        return {
          rows: read,
          checkpoints: await auditStore.readCheckpoints(tx, tenantId, state.lastSeq, upTo),
        };
      });
      if (rows.length === 0) return { seq: state.lastSeq + 1, reason: 'sequence gap' };
      const bySeq = new Map(checkpoints.map((checkpoint) => [checkpoint.seq, checkpoint]));
      for (const row of rows) {
        if (state.lastSeq >= toSeq) return undefined;
        const bad = checkLink(row, state) ?? (await checkCheckpoint(tenantId, row, bySeq.get(row.seq), deps));
        if (bad) return bad;
        state.lastSeq = row.seq;
        state.lastHash = row.hash;
      }
    }
    return undefined;
  }

  /** Stores the signed record and the `audit.pruned` entry, unless another run recorded this segment. */
  async function record(tenantId: string, prune: Omit<AuditPruneRow, 'key_id' | 'signature'>) {
    const { keyId, signature } = deps.signingKeys.sign(prunePayload(prune));
    await withAuditMaintenance(storage, tenantId, async (tx) => {
      const inserted = await tx
        .insertInto('audit_prunes')
        .values({ ...prune, key_id: keyId, signature })
        .onConflict((conflict) => conflict.columns(['tenant_id', 'seq']).doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return;
      await deps.audit.append(tx, tenantId, {
        actor: { type: 'system' },
        action: PRUNED_ACTION,
        outcome: 'success',
        details: {
          throughSeq: prune.seq,
          throughHash: prune.hash,
          entries: prune.entries,
          olderThan: new Date(prune.older_than).toISOString(),
        },
      });
    });
  }

  return {
    /**
     * Removes the entries of `tenantId`'s chain that occurred before `request.olderThan`, up to the newest
     * signed checkpoint such that every entry up to it is that old. Entries at or after the cut-off, and
     * everything after the first such entry, stay.
     */
    async prune(tenantId: string, request: PruneRequest): Promise<PruneOutcome> {
      const { olderThan, minimumDays } = request;
      if (!Number.isFinite(olderThan)) throw new RangeError('olderThan must be a time in milliseconds');
      if (minimumDays !== undefined && olderThan > clock.now() - minimumDays * DAY_MS) {
        throw new RangeError('the cut-off would remove audit entries younger than the audit minimum');
      }
      const last = await storage.withTenant(tenantId, (tx) => auditPruneStore.lastPrune(tx, tenantId));
      // A pruning interrupted while deleting: finish it first.
      let removed = last ? await deleteCovered(tenantId, last.seq) : 0;
      const from = { lastSeq: last?.seq ?? 0, lastHash: last?.hash ?? GENESIS_HASH };
      const boundary = await storage.withTenant(tenantId, (tx) =>
        auditPruneStore.pruneBoundary(tx, tenantId, from.lastSeq, olderThan),
      );
      if (!boundary) return { status: 'nothing_due', removed };
      const bad = await verifySegment(tenantId, from, boundary.seq);
      if (bad) return { status: 'refused', removed, firstBad: bad };
      await record(tenantId, {
        tenant_id: tenantId,
        seq: boundary.seq,
        hash: boundary.hash,
        entries: boundary.seq - from.lastSeq,
        older_than: olderThan,
        pruned_at: clock.now(),
      });
      removed += await deleteCovered(tenantId, boundary.seq);
      return { status: 'pruned', throughSeq: boundary.seq, removed };
    },
  };
}

export type AuditPruner = ReturnType<typeof createAuditPruner>;
