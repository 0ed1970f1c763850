import type { TenantTx } from '../../storage/database.ts';
import type { LegalHoldsTable } from '../../storage/tables.ts';

export type LegalHoldRow = LegalHoldsTable;

/** Kysely queries for `legal_holds`. A hold is in force while not released and before its end. */
export const legalHoldStore = {
  async insert(tx: TenantTx, row: LegalHoldRow): Promise<void> {
    await tx.insertInto('legal_holds').values(row).execute();
  },

  async find(tx: TenantTx, tenantId: string, id: string): Promise<LegalHoldRow | undefined> {
    return tx
      .selectFrom('legal_holds')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
  },

  /** Newest first; `activeAt`: only those in force at that time. */
  async list(tx: TenantTx, tenantId: string, activeAt?: number): Promise<LegalHoldRow[]> {
    return tx
      .selectFrom('legal_holds')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .$if(activeAt !== undefined, (query) =>
        query
          .where('released_at', 'is', null)
          .where((eb) => eb.or([eb('ends_at', 'is', null), eb('ends_at', '>', activeAt ?? 0)])),
      )
      .orderBy('placed_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1000)
      .execute();
  },

  async release(tx: TenantTx, tenantId: string, id: string, by: string, at: number): Promise<boolean> {
    const result = await tx
      .updateTable('legal_holds')
      .set({ released_at: at, released_by: by })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('released_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  },
};
