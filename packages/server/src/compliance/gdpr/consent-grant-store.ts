import { sql } from 'kysely';
import type { TenantTx } from '../../storage/database.ts';
import type { ConsentLedgerTable, ConsentStatesTable } from '../../storage/tables.ts';

export type LedgerRow = ConsentLedgerTable;
export type StateRow = ConsentStatesTable;

/** Counts of active users per purpose by where they stand on its current version. */
export interface CoverageCounts {
  key: string;
  granted: number;
  outdated: number;
  withdrawn: number;
}

/**
 * Kysely queries for users' grants: the append-only ledger and the latest state derived from it. A grant or
 * withdrawal writes both in one transaction (see consent-service.ts); nothing else writes either.
 */
export const consentGrantStore = {
  async appendLedger(tx: TenantTx, row: LedgerRow): Promise<void> {
    await tx.insertInto('consent_ledger').values(row).execute();
  },

  /** The user's ledger, oldest first. */
  async ledgerOf(tx: TenantTx, tenantId: string, userId: string): Promise<LedgerRow[]> {
    return tx
      .selectFrom('consent_ledger')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .orderBy('at')
      .orderBy('id')
      .execute();
  },

  async statesOf(tx: TenantTx, tenantId: string, userId: string): Promise<StateRow[]> {
    return tx
      .selectFrom('consent_states')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .execute();
  },

  async stateOf(tx: TenantTx, tenantId: string, userId: string, key: string): Promise<StateRow | undefined> {
    return tx
      .selectFrom('consent_states')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('purpose_key', '=', key)
      .executeTakeFirst();
  },

  async putState(tx: TenantTx, row: StateRow): Promise<void> {
    await tx
      .insertInto('consent_states')
      .values(row)
      .onConflict((conflict) =>
        conflict.columns(['tenant_id', 'user_id', 'purpose_key']).doUpdateSet({
          version: row.version,
          granted: row.granted,
          changed_at: row.changed_at,
        }),
      )
      .execute();
  },

  /**
   * The required, active purposes whose current version the user has not granted (never, an older version,
   * or withdrawn). Empty means the user may use the service. Runs on every token resolution that misses the
   * principal cache: one indexed join over the tenant's few current purposes.
   */
  async owedRequired(
    tx: TenantTx,
    tenantId: string,
    userId: string,
  ): Promise<{ key: string; version: number }[]> {
    return tx
      .selectFrom('consent_purposes as p')
      .leftJoin('consent_states as s', (join) =>
        join
          .onRef('s.tenant_id', '=', 'p.tenant_id')
          .onRef('s.purpose_key', '=', 'p.key')
          .on('s.user_id', '=', userId),
      )
      .select(['p.key', 'p.version'])
      .where('p.tenant_id', '=', tenantId)
      .where('p.superseded_at', 'is', null)
      .where('p.required', '=', 1)
      .where('p.active', '=', 1)
      .where((eb) =>
        eb.or([
          eb('s.granted', 'is', null),
          eb('s.granted', '=', 0),
          eb('s.version', '<>', eb.ref('p.version')),
        ]),
      )
      .orderBy('p.key')
      .execute();
  },

  /** How many active users have granted, granted an older version of, or withdrawn each current purpose. */
  async coverage(tx: TenantTx, tenantId: string): Promise<CoverageCounts[]> {
    const rows = await tx
      .selectFrom('consent_states as s')
      .innerJoin('users as u', (join) =>
        join.onRef('u.tenant_id', '=', 's.tenant_id').onRef('u.id', '=', 's.user_id'),
      )
      .innerJoin('consent_purposes as p', (join) =>
        join
          .onRef('p.tenant_id', '=', 's.tenant_id')
          .onRef('p.key', '=', 's.purpose_key')
          .on('p.superseded_at', 'is', null),
      )
      .select((eb) => [
        's.purpose_key as key',
        eb.fn
          .sum<number | string>(sql`case when s.granted = 1 and s.version = p.version then 1 else 0 end`)
          .as('granted'),
        eb.fn
          .sum<number | string>(sql`case when s.granted = 1 and s.version < p.version then 1 else 0 end`)
          .as('outdated'),
        eb.fn.sum<number | string>(sql`case when s.granted = 0 then 1 else 0 end`).as('withdrawn'),
      ])
      .where('s.tenant_id', '=', tenantId)
      .where('u.status', '=', 'active')
      .groupBy('s.purpose_key')
      .execute();
    return rows.map((row) => ({
      key: row.key,
      granted: Number(row.granted),
      outdated: Number(row.outdated),
      withdrawn: Number(row.withdrawn),
    }));
  },

  /** Whether the tenant has (or had: erased accounts keep their row) a user with this id. */
  async userExists(tx: TenantTx, tenantId: string, userId: string): Promise<boolean> {
    const row = await tx
      .selectFrom('users')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  },

  async countActiveUsers(tx: TenantTx, tenantId: string): Promise<number> {
    const row = await tx
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('tenant_id', '=', tenantId)
      .where('status', '=', 'active')
      .executeTakeFirst();
    return Number(row?.count ?? 0);
  },
};
