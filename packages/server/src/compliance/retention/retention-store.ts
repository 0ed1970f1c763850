import type { TenantTx } from '../../storage/database.ts';
import type { RetentionRulesTable } from '../../storage/tables.ts';

/** The tenant's own row in `retention_rules`; a dialog's override is keyed by the dialog's id. */
export const TENANT_RULES = '';

/** Kysely queries for `retention_rules`: a tenant's rules and its dialogs' overrides. */
export const retentionStore = {
  async get(tx: TenantTx, tenantId: string, dialogId: string): Promise<RetentionRulesTable | undefined> {
    return tx
      .selectFrom('retention_rules')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .executeTakeFirst();
  },

  async put(tx: TenantTx, row: RetentionRulesTable): Promise<void> {
    await tx
      .insertInto('retention_rules')
      .values(row)
      .onConflict((conflict) =>
        conflict
          .columns(['tenant_id', 'dialog_id'])
          .doUpdateSet({ rules: row.rules, updated_at: row.updated_at }),
      )
      .execute();
  },

  async remove(tx: TenantTx, tenantId: string, dialogId: string): Promise<boolean> {
    const result = await tx
      .deleteFrom('retention_rules')
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  },

  /** Every dialog override of the tenant. */
  async overrides(tx: TenantTx, tenantId: string): Promise<RetentionRulesTable[]> {
    return tx
      .selectFrom('retention_rules')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '<>', TENANT_RULES)
      .execute();
  },
};
