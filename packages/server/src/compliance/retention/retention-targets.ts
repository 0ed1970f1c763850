import type { TenantTx } from '../../storage/database.ts';

/**
 * The few reads retention and legal holds make of other domains' rows: does a user or dialog of this tenant
 * exist, and does a user manage a dialog. Every query names the tenant (and row-level security binds it on
 * PostgreSQL), so another tenant's id is simply not found.
 */
export const retentionTargets = {
  async exists(tx: TenantTx, tenantId: string, type: 'user' | 'dialog', id: string): Promise<boolean> {
    const row =
      type === 'user'
        ? await tx
            .selectFrom('users')
            .select('id')
            .where('tenant_id', '=', tenantId)
            .where('id', '=', id)
            .executeTakeFirst()
        : await tx
            .selectFrom('dialogs')
            .select('id')
            .where('tenant_id', '=', tenantId)
            .where('id', '=', id)
            .where('deleted_at', 'is', null)
            .executeTakeFirst();
    return row !== undefined;
  },

  /** An owner or admin of the dialog, still a member. */
  async managesDialog(tx: TenantTx, tenantId: string, dialogId: string, userId: string): Promise<boolean> {
    const row = await tx
      .selectFrom('dialog_members')
      .select('role')
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .where('user_id', '=', userId)
      .where('left_at', 'is', null)
      .executeTakeFirst();
    return row !== undefined && row.role !== 'member';
  },
};
