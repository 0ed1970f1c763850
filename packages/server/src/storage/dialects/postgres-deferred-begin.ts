import type pg from 'pg';

/** What Kysely's PostgreSQL driver uses of a pool and of its clients. */
interface KyselyPool {
  connect(): Promise<pg.PoolClient>;
  end(): Promise<void>;
}

const untouched = (command: 'BEGIN' | 'COMMIT' | 'ROLLBACK') =>
  ({ command, rowCount: null, rows: [], fields: [], oid: 0 }) as unknown as pg.QueryResult;

/**
 * A round trip fewer per transaction: `begin` is held back and sent with the transaction's first statement
 * when that statement has no parameters (a multi-statement simple query), which is what a tenant
 * transaction's first statement — setting the tenant — is made to be. Otherwise `begin` goes alone just before
 * it. A transaction that ends before any statement never reaches the server at all.
 */
export function withDeferredBegin(pool: Pick<pg.Pool, 'connect' | 'end'>): KyselyPool {
  const wrapped = new WeakMap<pg.PoolClient, pg.PoolClient>();
  const wrap = (client: pg.PoolClient): pg.PoolClient => {
    let pendingBegin = false;
    const query = async (text: unknown, values?: unknown[]): Promise<pg.QueryResult> => {
      if (typeof text !== 'string') {
        // A cursor or other query object: never combined.
        if (pendingBegin) await client.query('begin');
        pendingBegin = false;
        return client.query(text as pg.QueryConfig, values);
      }
      if (text === 'begin' && (values?.length ?? 0) === 0) {
        pendingBegin = true;
        return untouched('BEGIN');
      }
      if (!pendingBegin) return client.query(text, values);
      pendingBegin = false;
      if (text === 'commit') return untouched('COMMIT');
      if (text === 'rollback') return untouched('ROLLBACK');
      if ((values?.length ?? 0) > 0) {
        await client.query('begin');
        return client.query(text, values);
      }
      // Two statements in one simple query: pg answers with one result per statement.
      const results = (await client.query(`begin; ${text}`)) as unknown as pg.QueryResult[];
      const last = results.at(-1);
      if (!last) throw new Error('PostgreSQL returned no result for the transaction’s first statement');
      return last;
    };
    return new Proxy(client, {
      get(target, property, receiver) {
        if (property === 'query') return query;
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
  return {
    async connect() {
      const client = await pool.connect();
      let proxy = wrapped.get(client);
      if (!proxy) {
        proxy = wrap(client);
        wrapped.set(client, proxy);
      }
      return proxy;
    },
    end: () => pool.end(),
  };
}
