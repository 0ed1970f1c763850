import type { TenantTx } from '../storage/database.ts';

/** Kysely queries for block lists. */
export const blockStore = {
  async block(tx: TenantTx, tenantId: string, userId: string, blockedId: string, now: number) {
    await tx
      .insertInto('user_blocks')
      .values({ tenant_id: tenantId, user_id: userId, blocked_id: blockedId, created_at: now })
      .onConflict((conflict) => conflict.columns(['tenant_id', 'user_id', 'blocked_id']).doNothing())
      .execute();
  },

  async unblock(tx: TenantTx, tenantId: string, userId: string, blockedId: string) {
    await tx
      .deleteFrom('user_blocks')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('blocked_id', '=', blockedId)
      .execute();
  },

  async blockedBy(tx: TenantTx, tenantId: string, userId: string) {
    return tx
      .selectFrom('user_blocks')
      .select(['blocked_id', 'created_at'])
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .execute();
  },

  /** True when either of the two blocked the other. */
  async eitherBlocked(tx: TenantTx, tenantId: string, a: string, b: string): Promise<boolean> {
    const row = await tx
      .selectFrom('user_blocks')
      .select('user_id')
      .where('tenant_id', '=', tenantId)
      .where((eb) =>
        eb.or([
          eb.and([eb('user_id', '=', a), eb('blocked_id', '=', b)]),
          eb.and([eb('user_id', '=', b), eb('blocked_id', '=', a)]),
        ]),
      )
      .executeTakeFirst();
    return row !== undefined;
  },
};
