import type { SigningKeys } from '../../crypto/signing-keys.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { DialectName } from '../../storage/dialects/dialect-adapter.ts';
import {
  checkpointPayload,
  entryHash,
  GENESIS_HASH,
  PII_MINIMISED_ACTION,
  piiCommitment,
  prunePayload,
} from './audit-entry.ts';
import { type AuditPruneRow, auditPruneStore } from './audit-prune-store.ts';
import { type AuditCheckpointRow, type AuditHeadRow, type AuditRow, auditStore } from './audit-store.ts';

/** Why an entry is not what was recorded; the first one found is reported. */
export type AuditFailureReason =
  /** An entry is missing (deleted), or the numbering was changed. */
  | 'sequence gap'
  /** An entry does not follow the one before it: inserted, reordered or forged. */
  | 'previous hash mismatch'
  /**
   * An entry's columns changed after it was written (also its sealed ip or user agent, while not
   * minimised: they no longer match the commitment its hash covers).
   */
  | 'hash mismatch'
  /**
   * The "pruned up to" record the chain starts from was not signed by this server's signing key: forged,
   * altered, or moved from another tenant. Entries removed without a genuine record show as a
   * `sequence gap` at the first entry left.
   */
  | 'prune record signature invalid'
  /**
   * Entries are marked minimised (ip truncated, user agent dropped) beyond what the chain's minimisation
   * records cover: someone who can write the database erased them outside the minimisation job.
   */
  | 'minimised without record'
  /**
   * No checkpoint where one is due (every `checkpointEvery` entries): it was deleted. Time-based checkpoints
   * (see `AuditLog.checkpointTail`) may stand at any seq in between and are checked wherever they are.
   */
  | 'checkpoint missing'
  /** The chain was rewritten up to a checkpoint: the entry there is not the one that was signed. */
  | 'checkpoint hash mismatch'
  /** A checkpoint was not signed by this server's signing key (forged or altered). */
  | 'checkpoint signature invalid'
  /** A checkpoint names an entry that is gone: the tail was cut back. */
  | 'checkpoint without entry'
  /** The head row does not name the last entry: the tail was cut, or entries were added past it. */
  | 'head does not match last entry'
  /**
   * The anchor file pins this seq to another hash: the chain was rolled back and rewritten from here (or
   * rewritten from the start before its first count-based checkpoint).
   */
  | 'anchored hash mismatch'
  /** The anchor file pins an entry the chain no longer has: its tail was cut (with its checkpoints). */
  | 'anchored entry missing'
  /** The tenant exists, or the anchor file says it did, and it has no chain at all: it was deleted. */
  | 'chain missing';

/** What is known about a chain from outside the database (see `AuditAnchors`). */
export interface ChainExpectations {
  /** Anchored seq → hash, from the anchor file. */
  anchored?: ReadonlyMap<number, string> | undefined;
  /** The chain must have entries (every tenant's chain starts when the tenant is created). */
  mustExist?: boolean | undefined;
}

export type AuditVerification =
  | {
      ok: true;
      entries: number;
      checkpoints: number;
      /** Present when retention removed the chain's oldest entries: up to which seq, and when. */
      prunedThrough?: { seq: number; prunedAt: string; olderThan: string };
    }
  | {
      ok: false;
      /** Entries found intact before the first bad one. */
      entries: number;
      firstBad: { seq: number; id?: string; reason: AuditFailureReason };
    };

export interface AuditVerifierDeps {
  signingKeys: Pick<SigningKeys, 'verify'>;
  dialect: DialectName;
  checkpointEvery: number;
  batchSize: number;
}

/** The first entry that is not what was recorded, and why. */
export type FirstBad = Extract<AuditVerification, { ok: false }>['firstBad'];

interface VerifyBatch {
  head: AuditHeadRow | undefined;
  /** The newest "pruned up to" record; read with the first batch only. */
  prune?: AuditPruneRow | undefined;
  entries: AuditRow[];
  checkpoints: AuditCheckpointRow[];
  final: boolean;
}

interface VerifyState {
  lastSeq: number;
  lastHash: string;
  entries: number;
  checkpoints: number;
  /** The highest seq of an entry whose ip and user agent were minimised (0: none). */
  minimisedUpTo: number;
  /** The highest seq the chain's minimisation records cover (0: none). */
  minimisationRecordedUpTo: number;
}

/**
 * Recomputes one tenant's chain in seq order, `batchSize` entries per transaction (never nested: SQLite
 * has one connection), so a chain of any length is checked in flat memory.
 */
export async function verifyAuditChain(
  storage: Storage,
  tenantId: string,
  deps: AuditVerifierDeps,
  expected: ChainExpectations = {},
): Promise<AuditVerification> {
  const state: VerifyState = {
    lastSeq: 0,
    lastHash: GENESIS_HASH,
    entries: 0,
    checkpoints: 0,
    minimisedUpTo: 0,
    minimisationRecordedUpTo: 0,
  };
  let prune: AuditPruneRow | undefined;
  for (let first = true; ; first = false) {
    const afterSeq = state.lastSeq;
    const batch = await storage.withTenant(tenantId, (tx) => readBatch(tx, tenantId, afterSeq, deps, first));
    // Signatures are checked outside the transaction: an unknown key id is loaded from the database.
    const badStart = first ? await startAfterPrune(tenantId, batch, state, deps) : undefined;
    if (first) prune = batch.prune;
    const bad =
      badStart ??
      (await checkBatch(tenantId, batch, state, deps, expected)) ??
      (batch.final
        ? (checkHead(batch, state) ?? checkAnchoredEnd(state, expected) ?? checkMinimised(state))
        : undefined);
    if (bad) return { ok: false, entries: state.entries, firstBad: bad };
    if (batch.final) {
      const result = { ok: true as const, entries: state.entries, checkpoints: state.checkpoints };
      if (!prune) return result;
      const prunedThrough = {
        seq: prune.seq,
        prunedAt: new Date(prune.pruned_at).toISOString(),
        olderThan: new Date(prune.older_than).toISOString(),
      };
      return { ...result, prunedThrough };
    }
  }
}

/**
 * A chain whose oldest entries retention removed starts after its newest "pruned up to" record, from the
 * hash that record names, once its signature checks out: the next entry must link to it. Entries at or
 * before the record that are still there (a pruning interrupted half way) are not read.
 */
async function startAfterPrune(
  tenantId: string,
  batch: VerifyBatch,
  state: VerifyState,
  deps: Pick<AuditVerifierDeps, 'signingKeys'>,
): Promise<FirstBad | undefined> {
  const { prune } = batch;
  if (!prune) return undefined;
  if (!(await pruneRecordValid(tenantId, prune, deps))) {
    return { seq: prune.seq, reason: 'prune record signature invalid' };
  }
  state.lastSeq = prune.seq;
  state.lastHash = prune.hash;
  // The batch was read after seq 0: drop what the record covers, and the checkpoints it left behind.
  batch.entries = batch.entries.filter((row) => row.seq > prune.seq);
  batch.checkpoints = batch.checkpoints.filter((checkpoint) => checkpoint.seq > prune.seq);
  return undefined;
}

/** True when the record carries this server's signature over exactly its fields and this tenant id. */
export async function pruneRecordValid(
  tenantId: string,
  prune: AuditPruneRow,
  deps: Pick<AuditVerifierDeps, 'signingKeys'>,
): Promise<boolean> {
  const payload = prunePayload({ ...prune, tenant_id: tenantId });
  return deps.signingKeys.verify(prune.key_id, payload, prune.signature).catch(() => false);
}

/**
 * One batch, consistent with the head: on PostgreSQL the head is share-locked first, so no append can
 * commit while the batch is read, and entries past the head can only be forged ones.
 */
async function readBatch(
  tx: TenantTx,
  tenantId: string,
  afterSeq: number,
  deps: AuditVerifierDeps,
  first: boolean,
): Promise<VerifyBatch> {
  const head = await auditStore.readHead(tx, tenantId, deps.dialect === 'postgres' ? 'share' : 'none');
  const prune = first ? await auditPruneStore.lastPrune(tx, tenantId) : undefined;
  // The first batch starts after the pruned segment (a half-done pruning may have left some of it).
  const from = Math.max(afterSeq, prune?.seq ?? 0);
  const entries = await auditStore.readEntriesAfter(tx, tenantId, from, deps.batchSize);
  const final = entries.length < deps.batchSize;
  // The last batch also takes every later checkpoint: one past the last entry is itself a finding.
  const upTo = final ? undefined : entries.at(-1)?.seq;
  const checkpoints = await auditStore.readCheckpoints(tx, tenantId, from, upTo);
  return { head, prune, entries, checkpoints, final };
}

async function checkBatch(
  tenantId: string,
  batch: VerifyBatch,
  state: VerifyState,
  deps: AuditVerifierDeps,
  expected: ChainExpectations,
): Promise<FirstBad | undefined> {
  const checkpoints = new Map(batch.checkpoints.map((checkpoint) => [checkpoint.seq, checkpoint]));
  for (const row of batch.entries) {
    const checkpoint = checkpoints.get(row.seq);
    const anchoredHash = expected.anchored?.get(row.seq);
    const bad =
      checkLink(row, state) ??
      (await checkCheckpoint(tenantId, row, checkpoint, deps)) ??
      (anchoredHash === undefined || anchoredHash === row.hash
        ? undefined
        : { seq: row.seq, id: row.id, reason: 'anchored hash mismatch' as const });
    if (bad) return bad;
    if (checkpoints.delete(row.seq)) state.checkpoints += 1;
    noteMinimisation(row, state);
    state.lastSeq = row.seq;
    state.lastHash = row.hash;
    state.entries += 1;
  }
  const orphan = [...checkpoints.keys()].sort((a, b) => a - b)[0];
  return orphan === undefined ? undefined : { seq: orphan, reason: 'checkpoint without entry' };
}

/**
 * Sequence continuity, linkage to the previous entry, and the entry's own hash, in that order; then, for an
 * entry whose hash covers a commitment to its ip and user agent, that they still match it unless minimised.
 */
export function checkLink(
  row: AuditRow,
  state: Pick<VerifyState, 'lastSeq' | 'lastHash'>,
): FirstBad | undefined {
  const at = { seq: row.seq, id: row.id };
  if (row.seq !== state.lastSeq + 1) return { ...at, reason: 'sequence gap' };
  if (row.prev_hash !== state.lastHash) return { ...at, reason: 'previous hash mismatch' };
  if (entryHash(row) !== row.hash) return { ...at, reason: 'hash mismatch' };
  if (
    row.pii_commitment !== null &&
    row.pii_minimised_at === null &&
    piiCommitment(row.ip, row.user_agent) !== row.pii_commitment
  ) {
    return { ...at, reason: 'hash mismatch' };
  }
  return undefined;
}

/** Tracks minimised entries and the minimisation records (entries of the chain) that account for them. */
function noteMinimisation(row: AuditRow, state: VerifyState): void {
  if (row.pii_minimised_at !== null) state.minimisedUpTo = row.seq;
  if (row.action !== PII_MINIMISED_ACTION) return;
  const details = JSON.parse(row.details) as { throughSeq?: unknown };
  if (typeof details.throughSeq === 'number' && details.throughSeq < row.seq) {
    state.minimisationRecordedUpTo = Math.max(state.minimisationRecordedUpTo, details.throughSeq);
  }
}

/** Every minimised entry must come before a minimisation record that covers it (written by the job first). */
function checkMinimised(state: VerifyState): FirstBad | undefined {
  if (state.minimisedUpTo <= state.minimisationRecordedUpTo) return undefined;
  return { seq: state.minimisedUpTo, reason: 'minimised without record' };
}

/** A checkpoint must name its entry's hash and carry a valid signature; one is due every `checkpointEvery`. */
export async function checkCheckpoint(
  tenantId: string,
  row: AuditRow,
  checkpoint: AuditCheckpointRow | undefined,
  deps: Pick<AuditVerifierDeps, 'signingKeys' | 'checkpointEvery'>,
): Promise<FirstBad | undefined> {
  const at = { seq: row.seq, id: row.id };
  if (!checkpoint) {
    return row.seq % deps.checkpointEvery === 0 ? { ...at, reason: 'checkpoint missing' } : undefined;
  }
  if (checkpoint.hash !== row.hash) return { ...at, reason: 'checkpoint hash mismatch' };
  const payload = checkpointPayload({ ...checkpoint, tenant_id: tenantId });
  const valid = await deps.signingKeys
    .verify(checkpoint.key_id, payload, checkpoint.signature)
    .catch(() => false);
  return valid ? undefined : { ...at, reason: 'checkpoint signature invalid' };
}

/** The head must name exactly the last entry; a missing head counts as the genesis head. */
function checkHead(batch: VerifyBatch, state: VerifyState): FirstBad | undefined {
  const head = batch.head ?? { seq: 0, hash: GENESIS_HASH };
  if (head.seq === state.lastSeq && head.hash === state.lastHash) return undefined;
  // Same seq: the last entry itself is off. Head ahead: the first missing entry. Head behind: the first
  // entry it does not cover.
  const seq = head.seq === state.lastSeq ? state.lastSeq : Math.min(head.seq, state.lastSeq) + 1;
  return { seq, reason: 'head does not match last entry' };
}

/** After the last entry: the chain must exist when expected, and reach every anchored entry. */
function checkAnchoredEnd(state: VerifyState, expected: ChainExpectations): FirstBad | undefined {
  // A chain that was pruned exists even if no entry followed the record (the pruner always appends one).
  if (expected.mustExist && state.entries === 0 && state.lastSeq === 0) {
    return { seq: 1, reason: 'chain missing' };
  }
  let lastAnchored = 0;
  for (const seq of expected.anchored?.keys() ?? []) lastAnchored = Math.max(lastAnchored, seq);
  if (lastAnchored <= state.lastSeq) return undefined;
  return { seq: state.lastSeq + 1, reason: state.entries === 0 ? 'chain missing' : 'anchored entry missing' };
}
