import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { FieldCipher, FieldLocation } from '../../crypto/field-cipher.ts';
import type { SigningKeys } from '../../crypto/signing-keys.ts';
import { newId } from '../../ids.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { DialectName } from '../../storage/dialects/dialect-adapter.ts';
import {
  type AuditActorType,
  type AuditInput,
  type AuditOutcome,
  actionPattern,
  actorTypes,
  canonicalJson,
  checkpointPayload,
  entryHash,
  type JsonObject,
  outcomes,
  piiCommitment,
  NON_TENANT_CHAINS,
  type UnhashedAuditRow,
} from './audit-entry.ts';
import { type AuditHeadRow, type AuditRow, type AuditRowFilter, auditStore } from './audit-store.ts';
import { checkUnsignedTail, unsignedTailDue } from './audit-tail.ts';
import type { AuditAnchors } from './audit-anchors.ts';
import {
  type AuditVerification,
  type ChainExpectations,
  type FirstBad,
  verifyAuditChain,
} from './audit-verifier.ts';

export type { AuditFailureReason, AuditVerification } from './audit-verifier.ts';

export interface AuditLogDeps {
  fieldCipher: Pick<FieldCipher, 'sealForTenant' | 'open'>;
  signingKeys: Pick<SigningKeys, 'sign' | 'verify'>;
  clock: Clock;
  /** PostgreSQL appends lock the chain head row; SQLite transactions are serialized already. */
  dialect: DialectName;
  /**
   * A signed checkpoint every this many entries (default 100). Verification expects one at each multiple,
   * so the value is part of the chain format: keep it fixed. Time-based checkpoints (`checkpointTail`) come
   * on top, at any seq.
   */
  checkpointEvery?: number;
  /** Entries per transaction when verifying or exporting (default 500, at most 500). */
  batchSize?: number;
  /** Where chain heads are pinned outside the database; without it, `sealAndAnchor` only signs. */
  anchors?: AuditAnchors | undefined;
}

/** What `checkpointTail` did for one chain. */
export type TailCheckpoint =
  | { status: 'not_due' }
  | { status: 'signed'; seq: number }
  /** The unsigned tail does not follow from the last checkpoint: it was tampered with; nothing was signed. */
  | { status: 'refused'; firstBad: FirstBad };

/** An entry as the API, the console and exports show it: an explicit field list, personal data opened. */
export interface AuditEntryView {
  id: string;
  seq: number;
  occurredAt: string;
  actor: { type: AuditActorType; id: string | null; sessionId: string | null };
  action: string;
  target: { type: string; id: string | null } | null;
  outcome: AuditOutcome;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: JsonObject;
  hash: string;
}

export interface AuditQueryFilter {
  actorId?: string | undefined;
  actorType?: AuditActorType | undefined;
  /** An exact action (`auth.login`) or a prefix ending in `.*` (`auth.*` = every `auth.…` action). */
  action?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  /** Inclusive lower bound, ms since the epoch. */
  from?: number | undefined;
  /** Exclusive upper bound, ms since the epoch. */
  to?: number | undefined;
}

export interface AuditPageRequest {
  /** Opaque; the `nextCursor` of the previous page (same filter and order). */
  cursor?: string | undefined;
  /** 1 to 500. */
  limit: number;
  order: 'asc' | 'desc';
}

export interface AuditPage {
  entries: AuditEntryView[];
  nextCursor?: string;
}

const MAX_PAGE = 500;
const MAX_DETAILS_CHARS = 16_384;
const actionFilterPattern = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$/;

/**
 * The tamper-evident audit log: one hash chain per tenant (and one for `system`). Each entry's hash covers
 * its stored columns and the previous hash; the head row names the last entry; every `checkpointEvery`
 * entries a checkpoint signed with a key only the master key can unseal pins the chain, so someone who can
 * write the database can neither edit, delete, insert nor reorder entries, nor rewrite the whole chain up to
 * the last checkpoint, without `verify` noticing.
 */
export class AuditLog {
  readonly #deps: AuditLogDeps;
  readonly #checkpointEvery: number;
  readonly #batchSize: number;
  readonly #verifying = new Map<string, Promise<AuditVerification>>();

  constructor(deps: AuditLogDeps) {
    this.#deps = deps;
    this.#checkpointEvery = deps.checkpointEvery ?? 100;
    this.#batchSize = Math.min(deps.batchSize ?? MAX_PAGE, MAX_PAGE);
    if (!Number.isInteger(this.#checkpointEvery) || this.#checkpointEvery < 1) {
      throw new RangeError('checkpointEvery must be a positive whole number');
    }
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1) {
      throw new RangeError('batchSize must be a positive whole number');
    }
  }

  /** Entries between count-based checkpoints: part of the chain format (pruning ends segments on them). */
  get checkpointEvery(): number {
    return this.#checkpointEvery;
  }

  /**
   * Records one entry inside the caller's transaction, so it commits or rolls back with the change it
   * records. On PostgreSQL this locks the tenant's chain head until that transaction ends: append late.
   */
  async append(tx: TenantTx, tenantId: string, input: AuditInput): Promise<{ id: string; seq: number }> {
    assertValidInput(input);
    const id = newId();
    const details = canonicalJson(input.details ?? {});
    if (details.length > MAX_DETAILS_CHARS) throw new RangeError('audit details are too large');
    const ip = await this.#seal(tx, tenantId, 'ip', id, input.ip);
    const userAgent = await this.#seal(tx, tenantId, 'user_agent', id, input.userAgent);
    const head = await this.#lockHead(tx, tenantId);
    const row: UnhashedAuditRow = {
      tenant_id: tenantId,
      seq: head.seq + 1,
      id,
      occurred_at: this.#deps.clock.now(),
      actor_type: input.actor.type,
      actor_id: input.actor.id ?? null,
      session_id: input.actor.sessionId ?? null,
      action: input.action,
      target_type: input.target?.type ?? null,
      target_id: input.target?.id ?? null,
      outcome: input.outcome,
      ip,
      user_agent: userAgent,
      request_id: input.requestId ?? null,
      details,
      prev_hash: head.hash,
      pii_commitment: piiCommitment(ip, userAgent),
    };
    const hash = entryHash(row);
    await auditStore.insertEntry(tx, { ...row, hash, pii_minimised_at: null });
    await auditStore.updateHead(tx, { tenant_id: tenantId, seq: row.seq, hash });
    if (row.seq % this.#checkpointEvery === 0) await this.#checkpoint(tx, tenantId, row.seq, hash);
    return { id, seq: row.seq };
  }

  /**
   * Signs a checkpoint at the head of one chain when its oldest entry after the last checkpoint was written
   * before `unsignedBefore` (ms): between count-based checkpoints, the tail is then protected by a
   * signature too, not by hash links alone. Runs under the head lock the append path takes (PostgreSQL; SQLite
   * transactions are serialized), so runs on several nodes at once sign each tail once and never conflict
   * with an append. The unsigned entries are recomputed from the last checkpoint first: a tail that does not
   * follow from it is never signed.
   */
  async checkpointTail(storage: Storage, tenantId: string, unsignedBefore: number): Promise<TailCheckpoint> {
    return storage.withTenant(tenantId, async (tx) => {
      // A look without the lock first: most chains are not due, and their appends should not wait.
      if (!(await unsignedTailDue(tx, tenantId, unsignedBefore))) return { status: 'not_due' } as const;
      const head = await this.#lockHead(tx, tenantId);
      // Read again under the lock: another node may have signed meanwhile.
      if (!(await unsignedTailDue(tx, tenantId, unsignedBefore))) return { status: 'not_due' } as const;
      const bad = await checkUnsignedTail(tx, tenantId, head, {
        signingKeys: this.#deps.signingKeys,
        checkpointEvery: this.#checkpointEvery,
        batchSize: this.#batchSize,
      });
      if (bad) return { status: 'refused', firstBad: bad } as const;
      await this.#checkpoint(tx, tenantId, head.seq, head.hash);
      return { status: 'signed', seq: head.seq } as const;
    });
  }

  /**
   * Signs a checkpoint at the head of each chain with unsigned entries, however young, then anchors them
   * outside the database. Called after commit where a chain must be pinned at once (a new tenant), so that
   * rewriting it from the start, or deleting it, does not wait for the next checkpoint pass to show.
   */
  async sealAndAnchor(storage: Storage, tenantIds: readonly string[]): Promise<void> {
    for (const tenantId of tenantIds) {
      await this.checkpointTail(storage, tenantId, Number.POSITIVE_INFINITY);
    }
    await this.#deps.anchors?.anchor(storage, tenantIds);
  }

  /** Resolves once anchor copies under way (webhook deliveries) are done or given up. */
  async idle(): Promise<void> {
    await this.#deps.anchors?.idle();
  }

  /** Anchors each chain's newest checkpoint not anchored yet (no-op without anchors). Answers how many. */
  async anchor(storage: Storage, tenantIds: readonly string[]): Promise<number> {
    return (await this.#deps.anchors?.anchor(storage, tenantIds)) ?? 0;
  }

  /**
   * Recomputes the whole chain of one tenant, batch by batch (one transaction each, never nested), and
   * compares it with what is known from outside the database (`expected`: anchors, existence).
   */
  async verify(storage: Storage, tenantId: string, expected?: ChainExpectations): Promise<AuditVerification> {
    return verifyAuditChain(
      storage,
      tenantId,
      {
        signingKeys: this.#deps.signingKeys,
        dialect: this.#deps.dialect,
        checkpointEvery: this.#checkpointEvery,
        batchSize: this.#batchSize,
      },
      expected,
    );
  }

  /**
   * Verifies one tenant's chain as `parley audit verify --tenant` does: also against this node's anchor file,
   * so a chain cut or rolled back past an anchored checkpoint shows. Concurrent calls for one tenant share one
   * run (it reads the whole chain).
   */
  async verifyTenant(storage: Storage, tenantId: string): Promise<AuditVerification> {
    const running = this.#verifying.get(tenantId);
    if (running) return running;
    const run = (async () => {
      const anchors = this.#deps.anchors ? await this.#deps.anchors.read(storage) : undefined;
      return this.verify(storage, tenantId, {
        anchored: anchors?.contents.anchors.get(tenantId),
        mustExist: true,
      });
    })().finally(() => {
      this.#verifying.delete(tenantId);
    });
    this.#verifying.set(tenantId, run);
    return run;
  }

  async query(
    tx: TenantTx,
    tenantId: string,
    filter: AuditQueryFilter,
    page: AuditPageRequest,
  ): Promise<AuditPage> {
    if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > MAX_PAGE) {
      throw new AppError('validation_failed', `The page limit must be between 1 and ${MAX_PAGE}.`);
    }
    const rows = await auditStore.queryEntries(tx, tenantId, toRowFilter(filter), {
      afterSeq: page.cursor === undefined ? undefined : decodeCursor(page.cursor),
      order: page.order,
      limit: page.limit + 1,
    });
    const shown = rows.slice(0, page.limit);
    const entries: AuditEntryView[] = [];
    for (const row of shown) entries.push(await this.#present(tx, row));
    const last = shown.at(-1);
    return rows.length > page.limit && last ? { entries, nextCursor: encodeCursor(last.seq) } : { entries };
  }

  /** Every matching entry, oldest first, as JSON lines (each ends in `\n`); one transaction per batch. */
  async *exportJsonl(storage: Storage, tenantId: string, filter: AuditQueryFilter): AsyncGenerator<string> {
    let cursor: string | undefined;
    do {
      const request: AuditPageRequest = { cursor, limit: this.#batchSize, order: 'asc' };
      const page = await storage.withTenant(tenantId, (tx) => this.query(tx, tenantId, filter, request));
      for (const entry of page.entries) yield `${JSON.stringify(entry)}\n`;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }

  async #seal(
    tx: TenantTx,
    tenantId: string,
    column: 'ip' | 'user_agent',
    rowId: string,
    value: string | undefined,
  ): Promise<string | null> {
    if (value === undefined) return null;
    if (NON_TENANT_CHAINS.includes(tenantId)) {
      // Tenant data keys hang off a `tenants` row, which the system and platform chains do not have.
      throw new TypeError(`the ${tenantId} audit chain has no data key to seal an ip or user agent with`);
    }
    return this.#deps.fieldCipher.sealForTenant(tx, location(tenantId, column, rowId), value);
  }

  /** Reads and locks the head, creating the genesis head on first use (a concurrent creator's row wins). */
  async #lockHead(tx: TenantTx, tenantId: string): Promise<AuditHeadRow> {
    const lock = this.#deps.dialect === 'postgres' ? 'update' : 'none';
    const head = await auditStore.readHead(tx, tenantId, lock);
    if (head) return head;
    await auditStore.createHead(tx, tenantId);
    const created = await auditStore.readHead(tx, tenantId, lock);
    if (!created) throw new Error('the audit chain head could not be created');
    return created;
  }

  async #checkpoint(tx: TenantTx, tenantId: string, seq: number, hash: string): Promise<void> {
    const signedAt = this.#deps.clock.now();
    const payload = checkpointPayload({ tenant_id: tenantId, seq, hash, signed_at: signedAt });
    const { keyId, signature } = this.#deps.signingKeys.sign(payload);
    await auditStore.insertCheckpoint(tx, {
      tenant_id: tenantId,
      seq,
      hash,
      signed_at: signedAt,
      key_id: keyId,
      signature,
    });
  }

  async #present(tx: TenantTx, row: AuditRow): Promise<AuditEntryView> {
    const open = (column: 'ip' | 'user_agent', envelope: string | null) =>
      envelope === null
        ? Promise.resolve(null)
        : this.#deps.fieldCipher.open(tx, location(row.tenant_id, column, row.id), envelope);
    return {
      id: row.id,
      seq: row.seq,
      occurredAt: new Date(row.occurred_at).toISOString(),
      actor: { type: row.actor_type as AuditActorType, id: row.actor_id, sessionId: row.session_id },
      action: row.action,
      target: row.target_type === null ? null : { type: row.target_type, id: row.target_id },
      outcome: row.outcome as AuditOutcome,
      ip: await open('ip', row.ip),
      userAgent: await open('user_agent', row.user_agent),
      requestId: row.request_id,
      details: JSON.parse(row.details) as JsonObject,
      hash: row.hash,
    };
  }
}

function location(tenantId: string, column: 'ip' | 'user_agent', rowId: string): FieldLocation {
  return { tenantId, table: 'audit_log', column, rowId };
}

function assertValidInput(input: AuditInput): void {
  if (!actorTypes.includes(input.actor.type)) throw new TypeError(`unknown audit actor type`);
  if (!outcomes.includes(input.outcome)) throw new TypeError(`unknown audit outcome`);
  if (input.action.length > 100 || !actionPattern.test(input.action)) {
    throw new TypeError(`audit action must be dotted lower case, like tenant.created`);
  }
  if (input.target && (input.target.type === '' || input.target.id === '')) {
    throw new TypeError('audit target needs a type and an id');
  }
}

function toRowFilter(filter: AuditQueryFilter): AuditRowFilter {
  const { action, ...columns } = filter;
  if (action === undefined) return columns;
  if (action.length > 100 || !actionFilterPattern.test(action)) {
    throw new AppError('validation_failed', 'The action filter must be an action or a prefix like auth.*.');
  }
  return { ...columns, action: action.endsWith('.*') ? { prefix: action.slice(0, -1) } : { exact: action } };
}

const encodeCursor = (seq: number): string => Buffer.from(String(seq), 'utf8').toString('base64url');

function decodeCursor(cursor: string): number {
  const seq = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
  // Round-trip check: only cursors this class made are accepted.
  if (!Number.isSafeInteger(seq) || seq < 0 || encodeCursor(seq) !== cursor) {
    throw new AppError('bad_request', 'The cursor is not valid.');
  }
  return seq;
}
