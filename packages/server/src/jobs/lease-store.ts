import type { SystemTx } from '../storage/database.ts';

/**
 * A lease held by one node: work under it runs once cluster-wide. `token` is the fencing token: it grows by
 * one at every acquisition, so a holder that was paused past its lease (and replaced) can tell, before it
 * commits, that the lease it started under is gone.
 */
export interface LeaseGrant {
  readonly name: string;
  readonly holder: string;
  readonly token: number;
  readonly expiresAt: number;
}

/**
 * The `job_leases` queries. Each step is one compare-and-set statement, so two nodes racing for a lease
 * cannot both win: acquire succeeds only on a free or lapsed lease (or one this holder already has), renew
 * and release only with the current token. Times come from the caller's clock; nodes' clocks must agree to
 * well within a lease's time to live.
 */
export const leaseStore = {
  async acquire(
    tx: SystemTx,
    lease: { name: string; holder: string; now: number; ttlMs: number },
  ): Promise<LeaseGrant | undefined> {
    const expiresAt = lease.now + lease.ttlMs;
    const row = await tx
      .insertInto('job_leases')
      .values({ name: lease.name, holder: lease.holder, token: 1, expires_at: expiresAt })
      .onConflict((conflict) =>
        conflict
          .column('name')
          .doUpdateSet((eb) => ({
            holder: eb.ref('excluded.holder'),
            expires_at: eb.ref('excluded.expires_at'),
            token: eb('job_leases.token', '+', 1),
          }))
          .where((eb) =>
            eb.or([eb('job_leases.expires_at', '<=', lease.now), eb('job_leases.holder', '=', lease.holder)]),
          ),
      )
      .returning(['token'])
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : { name: lease.name, holder: lease.holder, token: row.token, expiresAt };
  },

  /**
   * Extends the lease while `grant` is still the current one. A lease that lapsed but was not taken by anyone
   * is still renewed: nothing ran under another token meanwhile.
   */
  async renew(tx: SystemTx, grant: LeaseGrant, now: number, ttlMs: number): Promise<LeaseGrant | undefined> {
    const expiresAt = now + ttlMs;
    const result = await tx
      .updateTable('job_leases')
      .set({ expires_at: expiresAt })
      .where('name', '=', grant.name)
      .where('holder', '=', grant.holder)
      .where('token', '=', grant.token)
      .executeTakeFirst();
    return result.numUpdatedRows === 0n ? undefined : { ...grant, expiresAt };
  },

  /** Lets the lease go at once (the token stays, so the next holder's is higher). */
  async release(tx: SystemTx, grant: LeaseGrant): Promise<void> {
    await tx
      .updateTable('job_leases')
      .set({ expires_at: 0 })
      .where('name', '=', grant.name)
      .where('holder', '=', grant.holder)
      .where('token', '=', grant.token)
      .execute();
  },

  /**
   * Whether `grant` is still the current lease, checked inside the transaction that commits work done under
   * it. On PostgreSQL the row stays share-locked until that transaction ends, so a takeover waits for the
   * commit rather than slipping in between this check and it; SQLite transactions hold the write lock.
   */
  async holds(tx: SystemTx, grant: LeaseGrant, dialect: 'sqlite' | 'postgres'): Promise<boolean> {
    const query = tx
      .selectFrom('job_leases')
      .select('token')
      .where('name', '=', grant.name)
      .where('holder', '=', grant.holder)
      .where('token', '=', grant.token);
    const row = await (dialect === 'postgres' ? query.forShare() : query).executeTakeFirst();
    return row !== undefined;
  },

  /** Every lease, for operators and tests. */
  list(tx: SystemTx): Promise<LeaseGrant[]> {
    return tx
      .selectFrom('job_leases')
      .select(['name', 'holder', 'token', 'expires_at as expiresAt'])
      .orderBy('name')
      .execute();
  },
};
