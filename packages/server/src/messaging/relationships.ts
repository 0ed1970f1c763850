import type { TenantTx } from '../storage/database.ts';
import { blockStore } from './block-store.ts';

/**
 * How two users of a tenant relate, for the features that ask "may A reach B?" (presence, calls): contacts
 * share a dialog both are still in; a block by either side cuts them off.
 */
export const relationships = {
  /** Both are still in a private, group or broadcast dialog. */
  async shareActiveDialog(tx: TenantTx, tenantId: string, a: string, b: string): Promise<boolean> {
    const shared = await tx
      .selectFrom('dialog_members as mine')
      .innerJoin('dialog_members as theirs', 'theirs.dialog_id', 'mine.dialog_id')
      .innerJoin('dialogs', 'dialogs.id', 'mine.dialog_id')
      .select('mine.dialog_id')
      .where('mine.tenant_id', '=', tenantId)
      .where('mine.user_id', '=', a)
      .where('mine.left_at', 'is', null)
      .where('theirs.user_id', '=', b)
      .where('theirs.left_at', 'is', null)
      .where('dialogs.deleted_at', 'is', null)
      // Anyone may join a public dialog: being in one together does not make people contacts.
      .where('dialogs.type', '!=', 'public')
      .limit(1)
      .executeTakeFirst();
    return shared !== undefined;
  },

  async isActiveUser(tx: TenantTx, tenantId: string, userId: string): Promise<boolean> {
    const row = await tx
      .selectFrom('users')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', userId)
      .where('status', '=', 'active')
      .executeTakeFirst();
    return row !== undefined;
  },

  eitherBlocked: (tx: TenantTx, tenantId: string, a: string, b: string) =>
    blockStore.eitherBlocked(tx, tenantId, a, b),
};
