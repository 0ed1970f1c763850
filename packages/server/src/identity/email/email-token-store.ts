import type { TenantTx } from '../../storage/database.ts';
import type { UserTokenPurpose } from '../../storage/tables.ts';

/** The e-mail flows' queries beyond `userTokenStore`: claiming a token atomically, retiring the rest. */
export const emailTokenStore = {
  /**
   * Marks a live token used, in one statement, and says whether this call did it. Two requests racing with
   * the same link (PostgreSQL runs them at once) cannot both succeed: only one update matches.
   */
  async claim(
    tx: TenantTx,
    tenantId: string,
    hash: string,
    purpose: UserTokenPurpose,
    now: number,
  ): Promise<boolean> {
    const result = await tx
      .updateTable('user_tokens')
      .set({ used_at: now })
      .where('tenant_id', '=', tenantId)
      .where('token_hash', '=', hash)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  },

  /** Marks every unused token of `purpose` for the user as used, so an older mailed link dies too. */
  async retireOutstanding(
    tx: TenantTx,
    tenantId: string,
    userId: string,
    purpose: UserTokenPurpose,
    now: number,
  ): Promise<void> {
    await tx
      .updateTable('user_tokens')
      .set({ used_at: now })
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .execute();
  },
};
