import type { TenantTx } from '../../storage/database.ts';
import type { DialectName } from '../../storage/dialects/dialect-adapter.ts';
import type { ConsentPurposesTable } from '../../storage/tables.ts';

export type PurposeRow = ConsentPurposesTable;

/** Kysely queries for processing purposes and their versions; every query is scoped to the tenant. */
export const consentPurposeStore = {
  /** Inserts a version; false when that (key, version) exists already (a concurrent create won). */
  async insert(tx: TenantTx, row: PurposeRow): Promise<boolean> {
    const result = await tx
      .insertInto('consent_purposes')
      .values(row)
      .onConflict((conflict) => conflict.columns(['tenant_id', 'key', 'version']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  },

  /** The current version of every purpose (active or not), by key. */
  async current(
    tx: TenantTx,
    tenantId: string,
    options: { activeOnly?: boolean } = {},
  ): Promise<PurposeRow[]> {
    return tx
      .selectFrom('consent_purposes')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('superseded_at', 'is', null)
      .$if(options.activeOnly === true, (query) => query.where('active', '=', 1))
      .orderBy('key')
      .execute();
  },

  async currentOf(tx: TenantTx, tenantId: string, key: string): Promise<PurposeRow | undefined> {
    return tx
      .selectFrom('consent_purposes')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('key', '=', key)
      .where('superseded_at', 'is', null)
      .executeTakeFirst();
  },

  async version(
    tx: TenantTx,
    tenantId: string,
    key: string,
    version: number,
  ): Promise<PurposeRow | undefined> {
    return tx
      .selectFrom('consent_purposes')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('key', '=', key)
      .where('version', '=', version)
      .executeTakeFirst();
  },

  /** Every version of one purpose, oldest first. */
  async versions(tx: TenantTx, tenantId: string, key: string): Promise<PurposeRow[]> {
    return tx
      .selectFrom('consent_purposes')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('key', '=', key)
      .orderBy('version')
      .execute();
  },

  /**
   * Serialises changes to one purpose until the transaction ends (PostgreSQL; SQLite serialises writers
   * already). Locks version 1, which every purpose has and no change ever removes: locking the current row
   * instead would leave the waiter holding a row that stopped being current while it waited.
   */
  async lock(tx: TenantTx, tenantId: string, key: string, dialect: DialectName): Promise<boolean> {
    const row = await tx
      .selectFrom('consent_purposes')
      .select('version')
      .where('tenant_id', '=', tenantId)
      .where('key', '=', key)
      .where('version', '=', 1)
      .$if(dialect === 'postgres', (query) => query.forUpdate())
      .executeTakeFirst();
    return row !== undefined;
  },

  async update(
    tx: TenantTx,
    tenantId: string,
    key: string,
    version: number,
    changes: Partial<Pick<PurposeRow, 'required' | 'active' | 'updated_at' | 'superseded_at'>>,
  ): Promise<void> {
    await tx
      .updateTable('consent_purposes')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('key', '=', key)
      .where('version', '=', version)
      .execute();
  },
};
