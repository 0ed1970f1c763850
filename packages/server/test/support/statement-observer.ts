import type { CompiledQuery, QueryResult } from 'kysely';
import type { Storage, TenantTx } from '../../src/storage/database.ts';

/** Runs a statement in the observed transaction without observing it again. */
export type RunInTransaction = (query: CompiledQuery) => Promise<QueryResult<unknown>>;

/**
 * Called before each statement of an observed tenant transaction, inside that transaction, with the
 * database in exactly the state the statement will see (earlier statements of the transaction applied, the
 * tenant bound). What it runs through `run` is not observed.
 */
export type StatementProbe = (statement: CompiledQuery, run: RunInTransaction, tx: TenantTx) => Promise<void>;

/**
 * Observes every statement the application runs in tenant transactions (`storage.withTenant`, which every
 * service reaches through the storage object it was given) until `restore`. Test-only: it replaces the
 * `executeQuery` of each transaction's executor, which every query builder and `sql` template of that
 * transaction runs through. Statements outside tenant transactions (maintenance, migrations) are not seen.
 */
export function observeTenantStatements(storage: Storage, probe: StatementProbe): { restore(): void } {
  const withTenant = storage.withTenant.bind(storage);
  storage.withTenant = (tenantId, work) =>
    withTenant(tenantId, (tx) => {
      const executor = tx.getExecutor();
      const original = executor.executeQuery.bind(executor);
      const run: RunInTransaction = (query) => original(query);
      executor.executeQuery = async <R>(query: CompiledQuery<R>): Promise<QueryResult<R>> => {
        await probe(query, run, tx);
        return original(query);
      };
      return work(tx);
    });
  return {
    restore() {
      storage.withTenant = withTenant;
    },
  };
}
