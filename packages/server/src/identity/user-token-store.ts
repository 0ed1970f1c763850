import type { TenantTx } from '../storage/database.ts';
import type { UserTokenPurpose, UserTokensTable } from '../storage/tables.ts';

export type UserTokenRow = UserTokensTable;

/** Single-use tokens (MFA step, password reset, e-mail verification, invites), by hash only. */
export const userTokenStore = {
  async insert(tx: TenantTx, row: UserTokenRow): Promise<void> {
    await tx.insertInto('user_tokens').values(row).execute();
  },

  async find(
    tx: TenantTx,
    tenantId: string,
    hash: string,
    purpose: UserTokenPurpose,
  ): Promise<UserTokenRow | undefined> {
    return tx
      .selectFrom('user_tokens')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('token_hash', '=', hash)
      .where('purpose', '=', purpose)
      .executeTakeFirst();
  },

  async update(tx: TenantTx, tenantId: string, hash: string, changes: Partial<UserTokenRow>): Promise<void> {
    await tx
      .updateTable('user_tokens')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('token_hash', '=', hash)
      .execute();
  },
};
