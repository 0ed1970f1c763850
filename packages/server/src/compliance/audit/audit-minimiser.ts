import type { Clock } from '../../clock.ts';
import { DecryptionError } from '../../crypto/aead.ts';
import type { FieldCipher, FieldLocation } from '../../crypto/field-cipher.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import { PII_MINIMISED_ACTION } from './audit-entry.ts';
import type { AuditLog } from './audit-log.ts';
import { withAuditMaintenance } from './audit-prune-store.ts';

export interface AuditMinimiserDeps {
  storage: Storage;
  audit: Pick<AuditLog, 'append'>;
  fieldCipher: Pick<FieldCipher, 'sealForTenant' | 'open'>;
  clock: Clock;
  /** Entries rewritten per transaction (default 200). */
  batchSize?: number;
}

/** How an ip is reduced (e.g. `truncateIp`); null drops it. The user agent is always dropped. */
export type IpReducer = (ip: string) => string | null;

const location = (tenantId: string, column: 'ip' | 'user_agent', rowId: string): FieldLocation => ({
  tenantId,
  table: 'audit_log',
  column,
  rowId,
});

/**
 * Data minimisation of audit entries (docs/privacy.md, "Data minimisation"): the sealed ip of each entry
 * that occurred before the cut-off is replaced by its reduced form (sealed again, bound to the same cell) and
 * its user agent dropped. The entry's hash covers a commitment to the original ciphertexts, not the
 * ciphertexts themselves (see `canonicalEntry`), so the chain still verifies. Before the first change an
 * `audit.personal_data_minimised` entry naming the last seq it covers is appended: `audit verify` refuses
 * minimised entries no such entry accounts for, so erasing an entry's ip outside this job shows.
 *
 * Entries written before migration 0023 hash their ciphertexts themselves and are left as they are (their
 * ip and user agent go with the entries, under audit retention), and so is an entry whose sealed ip does not
 * open (it was tampered with: `audit verify` shows it, and minimising it would hide that). Idempotent: minimised entries are skipped,
 * and a record is appended only when it covers more than the last one.
 */
export function createAuditMinimiser(deps: AuditMinimiserDeps) {
  const { storage, clock } = deps;
  const batchSize = deps.batchSize ?? 200;

  const due = (tx: TenantTx, tenantId: string, olderThan: number) =>
    tx
      .selectFrom('audit_log')
      .where('tenant_id', '=', tenantId)
      .where('occurred_at', '<', olderThan)
      .where('pii_commitment', 'is not', null)
      .where('pii_minimised_at', 'is', null)
      .where((eb) => eb.or([eb('ip', 'is not', null), eb('user_agent', 'is not', null)]));

  /** Appends the record covering entries up to `throughSeq`, unless the newest record covers them. */
  async function recordFirst(tx: TenantTx, tenantId: string, throughSeq: number, olderThan: number) {
    const lastRecord = await tx
      .selectFrom('audit_log')
      .select('details')
      .where('tenant_id', '=', tenantId)
      .where('action', '=', PII_MINIMISED_ACTION)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    const covered = lastRecord ? (JSON.parse(lastRecord.details) as { throughSeq?: number }).throughSeq : 0;
    if ((covered ?? 0) >= throughSeq) return;
    await deps.audit.append(tx, tenantId, {
      actor: { type: 'system' },
      action: PII_MINIMISED_ACTION,
      outcome: 'success',
      details: { throughSeq, olderThan: new Date(olderThan).toISOString() },
    });
  }

  /** One batch after `afterSeq`; an entry whose ip does not open (tampered) is left as it is. */
  async function minimiseBatch(
    tenantId: string,
    range: { afterSeq: number; throughSeq: number; olderThan: number },
    reduceIp: IpReducer,
  ): Promise<{ read: number; lastSeq: number; changed: number }> {
    const { afterSeq, throughSeq, olderThan } = range;
    return withAuditMaintenance(storage, tenantId, async (tx) => {
      const rows = await due(tx, tenantId, olderThan)
        .select(['seq', 'id', 'ip'])
        .where('seq', '>', afterSeq)
        .where('seq', '<=', throughSeq)
        .orderBy('seq', 'asc')
        .limit(batchSize)
        .execute();
      const now = clock.now();
      let changed = 0;
      for (const row of rows) {
        const ip = row.ip === null ? null : await reducedIp(tx, tenantId, row.id, row.ip, reduceIp);
        // Left in full: `audit verify` reports it (its ciphertext no longer matches the commitment).
        if (ip === undefined) continue;
        await tx
          .updateTable('audit_log')
          .set({ ip, user_agent: null, pii_minimised_at: now })
          .where('tenant_id', '=', tenantId)
          .where('id', '=', row.id)
          .execute();
        changed += 1;
      }
      return { read: rows.length, lastSeq: rows.at(-1)?.seq ?? throughSeq, changed };
    });
  }

  /** The reduced ip sealed again; null when dropped; undefined when the sealed value does not open. */
  async function reducedIp(
    tx: TenantTx,
    tenantId: string,
    id: string,
    sealed: string,
    reduceIp: IpReducer,
  ): Promise<string | null | undefined> {
    let ip: string;
    try {
      ip = await deps.fieldCipher.open(tx, location(tenantId, 'ip', id), sealed);
    } catch (error) {
      if (error instanceof DecryptionError) return undefined;
      throw error;
    }
    const reduced = reduceIp(ip);
    return reduced === null
      ? null
      : deps.fieldCipher.sealForTenant(tx, location(tenantId, 'ip', id), reduced);
  }
  return {
    /** Minimises the entries of one chain that occurred before `olderThan` (ms). Answers how many. */
    async minimise(tenantId: string, olderThan: number, reduceIp: IpReducer): Promise<number> {
      const throughSeq = await withAuditMaintenance(storage, tenantId, async (tx) => {
        const row = await due(tx, tenantId, olderThan)
          .select((eb) => eb.fn.max<number | null>('seq').as('seq'))
          .executeTakeFirst();
        const seq = row?.seq ?? undefined;
        if (seq !== undefined) await recordFirst(tx, tenantId, seq, olderThan);
        return seq;
      });
      if (throughSeq === undefined) return 0;
      let total = 0;
      for (let afterSeq = 0; ;) {
        const batch = await minimiseBatch(tenantId, { afterSeq, throughSeq, olderThan }, reduceIp);
        total += batch.changed;
        if (batch.read < batchSize) return total;
        afterSeq = batch.lastSeq;
      }
    },
  };
}

export type AuditMinimiser = ReturnType<typeof createAuditMinimiser>;
