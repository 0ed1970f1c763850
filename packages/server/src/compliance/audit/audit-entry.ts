import { createHash } from 'node:crypto';
import type { AuditCheckpointsTable, AuditLogTable, AuditPrunesTable } from '../../storage/tables.ts';

/** Who acted: an end user, operator staff, the server itself, or an API client (machine credential). */
export type AuditActorType = 'user' | 'staff' | 'system' | 'client';

export type AuditOutcome = 'success' | 'failure' | 'denied';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type JsonObject = { [key: string]: JsonValue };

/** One event to record. `details` must not hold personal data: it is stored in the clear. */
export interface AuditInput {
  actor: { type: AuditActorType; id?: string | undefined; sessionId?: string | undefined };
  /** Dotted, lower case, past tense: `tenant.created`, `auth.login_failed`. */
  action: string;
  target?: { type: string; id: string } | undefined;
  outcome: AuditOutcome;
  /** Personal data: sealed with the field cipher before it is stored. */
  ip?: string | undefined;
  /** Personal data: sealed with the field cipher before it is stored. */
  userAgent?: string | undefined;
  requestId?: string | undefined;
  details?: JsonObject | undefined;
}

/** The chain of events that belong to no tenant (operator actions, start-up, key rotation). */
export const SYSTEM_TENANT_ID = 'system';

/**
 * The chain of operator staff (platform/): accounts created, enrolled, signed in, their platform acts. Like
 * `system` it is no tenant: tenant ids are UUIDs, so no tenant, token or path can ever name this chain.
 */
export const PLATFORM_CHAIN_ID = 'platform';

/** The chains that belong to no tenant, verified and checkpointed beside every tenant's. */
export const NON_TENANT_CHAINS: readonly string[] = [SYSTEM_TENANT_ID, PLATFORM_CHAIN_ID];

/**
 * The action of the entry the minimisation job appends before it minimises entries up to
 * `details.throughSeq`: `audit verify` refuses minimised entries no such entry accounts for.
 */
export const PII_MINIMISED_ACTION = 'audit.personal_data_minimised';

/** The action of the entry the pruner appends with each "pruned up to" record: the gap, explained. */
export const PRUNED_ACTION = 'audit.pruned';

/** `prev_hash` of the first entry of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

export const actorTypes: readonly AuditActorType[] = ['user', 'staff', 'system', 'client'];
export const outcomes: readonly AuditOutcome[] = ['success', 'failure', 'denied'];

/** `tenant.created`, `auth.login_failed`: at least two lower-case segments. */
export const actionPattern = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

/**
 * A stored entry as it is hashed: every column except `hash` itself and `pii_minimised_at` (a later change
 * the hash must survive; see `canonicalEntry`).
 */
export type UnhashedAuditRow = Omit<AuditLogTable, 'hash' | 'pii_minimised_at'>;

/**
 * Deterministic JSON: object keys sorted by code unit, no whitespace, `undefined` properties left out (as
 * `JSON.stringify` does). Anything without one obvious encoding (non-finite numbers, `undefined` in an
 * array, bigint, functions) is refused rather than silently changed, so a hash never covers a guess.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON cannot encode a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value
      .map((item: unknown) => {
        if (item === undefined) throw new TypeError('canonical JSON cannot encode undefined in an array');
        return canonicalJson(item);
      })
      .join(',')}]`;
  }
  if (typeof value === 'object' && isPlainObject(value)) {
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    return `{${members.join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot encode a ${typeof value}`);
}

function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * The canonical form of a stored entry: exactly these columns, as stored (details as its canonical JSON
 * text). Adding a column to the hash is a format change. Two formats live side by side, told apart by
 * `pii_commitment` and bound into the hash by their different key sets, so one cannot pass for the other:
 *
 * - entries from before migration 0023 (`pii_commitment` null) cover the ip and user agent ciphertexts
 *   themselves; those can never change without breaking the chain;
 * - later entries cover `pii_commitment`, SHA-256 over the two ciphertexts as first written
 *   (`piiCommitment`), instead. While they are as written, `audit verify` checks them against it; data
 *   minimisation may replace them (ip truncated, user agent dropped, `pii_minimised_at` set) and the chain
 *   still verifies. The ciphertexts carry a random nonce, so the commitment reveals nothing about them.
 */
export function canonicalEntry(row: UnhashedAuditRow): string {
  const common = {
    tenant_id: row.tenant_id,
    seq: row.seq,
    id: row.id,
    occurred_at: row.occurred_at,
    actor_type: row.actor_type,
    actor_id: row.actor_id,
    session_id: row.session_id,
    action: row.action,
    target_type: row.target_type,
    target_id: row.target_id,
    outcome: row.outcome,
    request_id: row.request_id,
    details: row.details,
    prev_hash: row.prev_hash,
  };
  return row.pii_commitment === null
    ? canonicalJson({ ...common, ip: row.ip, user_agent: row.user_agent })
    : canonicalJson({ ...common, pii_commitment: row.pii_commitment });
}

/** hex(SHA-256(canonical JSON of the ip and user agent envelopes)): what a hash covers in their place. */
export function piiCommitment(ip: string | null, userAgent: string | null): string {
  return createHash('sha256')
    .update(canonicalJson({ ip, user_agent: userAgent }))
    .digest('hex');
}

/** hash = hex(SHA-256(prev_hash ‖ canonical entry)). */
export function entryHash(row: UnhashedAuditRow): string {
  return createHash('sha256').update(row.prev_hash).update(canonicalEntry(row)).digest('hex');
}

/** The bytes a checkpoint signature covers; the tenant id is inside, so a checkpoint cannot be moved. */
export function checkpointPayload(
  checkpoint: Pick<AuditCheckpointsTable, 'tenant_id' | 'seq' | 'hash' | 'signed_at'>,
): Buffer {
  return Buffer.from(
    canonicalJson({
      tenant_id: checkpoint.tenant_id,
      seq: checkpoint.seq,
      hash: checkpoint.hash,
      signed_at: checkpoint.signed_at,
    }),
    'utf8',
  );
}

/**
 * The bytes a "pruned up to" record's signature covers. `kind` keeps it apart from a checkpoint's payload,
 * so a checkpoint's signature can never be passed off as a pruning record (or the reverse).
 */
export function prunePayload(
  prune: Pick<AuditPrunesTable, 'tenant_id' | 'seq' | 'hash' | 'entries' | 'older_than' | 'pruned_at'>,
): Buffer {
  return Buffer.from(
    canonicalJson({
      kind: 'audit.pruned_up_to',
      tenant_id: prune.tenant_id,
      seq: prune.seq,
      hash: prune.hash,
      entries: prune.entries,
      older_than: prune.older_than,
      pruned_at: prune.pruned_at,
    }),
    'utf8',
  );
}
