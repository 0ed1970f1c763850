import type { LegalScopeSpec } from '@parley/protocol';
import type { SystemTx, TenantTx } from '../../storage/database.ts';
import type { DialectName } from '../../storage/dialects/dialect-adapter.ts';
import type { LegalPackagesTable, MessagesTable } from '../../storage/tables.ts';

export type LegalPackageRow = LegalPackagesTable;

/** Where a keyset walk over messages stands: after (`d`, `s`) in (dialog id, sequence) order. */
export interface MessageKey {
  d: string;
  s: number;
}

/** Kysely queries for disclosure packages and the records they select; every query names the tenant. */
export const legalPackageStore = {
  async insert(tx: TenantTx, row: LegalPackageRow): Promise<void> {
    await tx.insertInto('legal_packages').values(row).execute();
  },

  /** The row, locked until the transaction ends on PostgreSQL (SQLite serialises writers). */
  async lock(tx: TenantTx, tenantId: string, id: string, dialect: DialectName) {
    return tx
      .selectFrom('legal_packages')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .$if(dialect === 'postgres', (query) => query.forUpdate())
      .executeTakeFirst();
  },

  /** The request's newest package. */
  async latestOf(tx: TenantTx, tenantId: string, requestId: string): Promise<LegalPackageRow | undefined> {
    return tx
      .selectFrom('legal_packages')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('request_id', '=', requestId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .executeTakeFirst();
  },

  async update(tx: TenantTx, tenantId: string, id: string, changes: Partial<LegalPackageRow>) {
    await tx
      .updateTable('legal_packages')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  },

  /**
   * Marks a ready package expired; false when it was not ready any more (another expiry pass, on this node or
   * another, claimed it first), so each package's expiry is done and audited once.
   */
  async claimExpiry(tx: TenantTx, tenantId: string, id: string, now: number): Promise<boolean> {
    const result = await tx
      .updateTable('legal_packages')
      .set({ status: 'expired', archive_key: null, updated_at: now })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('status', '=', 'ready')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  async insertChunks(
    tx: TenantTx,
    tenantId: string,
    packageId: string,
    firstIndex: number,
    chunks: Buffer[],
  ) {
    if (chunks.length === 0) return;
    await tx
      .insertInto('legal_package_chunks')
      .values(
        chunks.map((data, offset) => ({
          tenant_id: tenantId,
          package_id: packageId,
          idx: firstIndex + offset,
          data,
        })),
      )
      .execute();
  },

  /** Chunks `from` to `to` (inclusive), in order. */
  async chunks(tx: TenantTx, tenantId: string, packageId: string, from: number, to: number) {
    return tx
      .selectFrom('legal_package_chunks')
      .select(['idx', 'data'])
      .where('tenant_id', '=', tenantId)
      .where('package_id', '=', packageId)
      .where('idx', '>=', from)
      .where('idx', '<=', to)
      .orderBy('idx')
      .execute();
  },

  async deleteChunks(tx: TenantTx, tenantId: string, packageId: string): Promise<void> {
    await tx
      .deleteFrom('legal_package_chunks')
      .where('tenant_id', '=', tenantId)
      .where('package_id', '=', packageId)
      .execute();
  },

  /** Ready packages of every tenant whose download window ended by `now` (a system transaction sees all). */
  async expired(tx: SystemTx, now: number): Promise<LegalPackageRow[]> {
    return tx
      .selectFrom('legal_packages')
      .selectAll()
      .where('status', '=', 'ready')
      .where('expires_at', '<=', now)
      .execute();
  },

  /**
   * Messages in scope after `after`, in (dialog, sequence) order: sent in `[from, to)` by a named account (any
   * when none is named) in a named dialog (any when none is named), not deleted for everyone.
   */
  async messagesInScope(
    tx: TenantTx,
    tenantId: string,
    scope: LegalScopeSpec,
    after: MessageKey,
    limit: number,
  ): Promise<MessagesTable[]> {
    return tx
      .selectFrom('messages')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('created_at', '>=', Date.parse(scope.from))
      .where('created_at', '<', Date.parse(scope.to))
      .where('deleted_at', 'is', null)
      .$if(scope.userIds.length > 0, (query) => query.where('sender_id', 'in', scope.userIds))
      .$if(scope.dialogIds.length > 0, (query) => query.where('dialog_id', 'in', scope.dialogIds))
      .where((eb) =>
        eb.or([
          eb('dialog_id', '>', after.d),
          eb.and([eb('dialog_id', '=', after.d), eb('seq', '>', after.s)]),
        ]),
      )
      .orderBy('dialog_id')
      .orderBy('seq')
      .limit(limit)
      .execute();
  },

  /** Sessions of the named accounts signed in within `[from, to)`: times and client only, no device. */
  async sessionsInScope(tx: TenantTx, tenantId: string, scope: LegalScopeSpec) {
    if (scope.userIds.length === 0) return [];
    return tx
      .selectFrom('sessions')
      .select(['id', 'user_id', 'client_id', 'created_at', 'last_used_at', 'revoked_at'])
      .where('tenant_id', '=', tenantId)
      .where('user_id', 'in', scope.userIds)
      .where('created_at', '>=', Date.parse(scope.from))
      .where('created_at', '<', Date.parse(scope.to))
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  },
};
