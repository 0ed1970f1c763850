import type { TenantTx } from '../../storage/database.ts';
import { entryHash, GENESIS_HASH } from './audit-entry.ts';
import { type AuditHeadRow, auditStore } from './audit-store.ts';
import { auditPruneStore } from './audit-prune-store.ts';
import {
  type AuditVerifierDeps,
  checkCheckpoint,
  checkLink,
  type FirstBad,
  pruneRecordValid,
} from './audit-verifier.ts';

/**
 * The unsigned tail of a chain: the entries after its last checkpoint. Count-based checkpoints leave up to
 * `checkpointEvery - 1` of them, protected by hash links alone; `AuditLog.checkpointTail` signs them once
 * they are old enough, after checking them with these helpers.
 */

/** True when the entry after the last checkpoint exists and was written before `unsignedBefore` (ms). */
export async function unsignedTailDue(
  tx: TenantTx,
  tenantId: string,
  unsignedBefore: number,
): Promise<boolean> {
  const last = await auditStore.lastCheckpoint(tx, tenantId);
  const [oldestUnsigned] = await auditStore.readEntriesAfter(tx, tenantId, last?.seq ?? 0, 1);
  return oldestUnsigned !== undefined && oldestUnsigned.occurred_at < unsignedBefore;
}

/**
 * Recomputes the entries after the last checkpoint up to `head`, as `audit verify` would: the checkpoint
 * must be genuine (its entry intact, its signature valid: a forged checkpoint would otherwise let a rewritten
 * tail be signed for real), each entry must follow the one before and hash to what it says, and the head
 * must name the last. Answers the first entry that does not, or undefined when the tail may be signed.
 */
export async function checkUnsignedTail(
  tx: TenantTx,
  tenantId: string,
  head: AuditHeadRow,
  deps: Pick<AuditVerifierDeps, 'signingKeys' | 'checkpointEvery' | 'batchSize'>,
): Promise<FirstBad | undefined> {
  const { batchSize } = deps;
  const last = await auditStore.lastCheckpoint(tx, tenantId);
  const prune = await auditPruneStore.lastPrune(tx, tenantId);
  // A pruned chain whose newest checkpoint is the pruned segment's last one (its entry is gone) starts from
  // the signed "pruned up to" record instead, as `audit verify` does.
  if (prune && prune.seq >= (last?.seq ?? 0)) {
    if (!(await pruneRecordValid(tenantId, prune, deps))) {
      return { seq: prune.seq, reason: 'prune record signature invalid' };
    }
    return checkLinksToHead(tx, tenantId, head, { lastSeq: prune.seq, lastHash: prune.hash }, batchSize);
  }
  if (last) {
    const [entry] = await auditStore.readEntriesAfter(tx, tenantId, last.seq - 1, 1);
    if (entry?.seq !== last.seq) return { seq: last.seq, reason: 'sequence gap' };
    if (entryHash(entry) !== entry.hash) return { seq: entry.seq, id: entry.id, reason: 'hash mismatch' };
    const bad = await checkCheckpoint(tenantId, entry, last, deps);
    if (bad) return bad;
  }
  const state = { lastSeq: last?.seq ?? 0, lastHash: last?.hash ?? GENESIS_HASH };
  return checkLinksToHead(tx, tenantId, head, state, batchSize);
}

/** Each entry after `state` must follow the one before and hash to what it says; the head names the last. */
async function checkLinksToHead(
  tx: TenantTx,
  tenantId: string,
  head: AuditHeadRow,
  state: { lastSeq: number; lastHash: string },
  batchSize: number,
): Promise<FirstBad | undefined> {
  while (state.lastSeq < head.seq) {
    const rows = await auditStore.readEntriesAfter(tx, tenantId, state.lastSeq, batchSize);
    if (rows.length === 0) break;
    for (const row of rows) {
      const bad = checkLink(row, state);
      if (bad) return bad;
      state.lastSeq = row.seq;
      state.lastHash = row.hash;
    }
  }
  if (state.lastSeq === head.seq && state.lastHash === head.hash) return undefined;
  // As in `audit verify`: same seq, the last entry is off; otherwise the first entry the two disagree on.
  const seq = head.seq === state.lastSeq ? state.lastSeq : Math.min(head.seq, state.lastSeq) + 1;
  return { seq, reason: 'head does not match last entry' };
}
