import type { ServerProcess } from './server-process.js';
import { withPostgres } from './grown-cache.js';

/**
 * What autovacuum would have done by now on a live PostgreSQL, done by hand where it is off (as on this
 * machine): `VACUUM (ANALYZE)` of the server's tables before a scenario. Without it the scenarios after the
 * first ran on tables their earlier ones had filled but the planner still took for empty: an index made on
 * an empty table keeps `reltuples = 0` until a vacuum, so the planner took a scan of every live message of
 * the tenant (`messages_live_age`) for free and chose it over the primary key for each search candidate —
 * 26 s a search at 20,911 messages (measured, EXPLAIN ANALYZE, 2026-12-07). A live server with autovacuum
 * on (PostgreSQL's default, required by docs/deployment.md) gets such statistics within seconds of the
 * inserts. Does nothing on SQLite or where autovacuum is on; returns a line saying what it did.
 */
export async function standInForAutovacuum(server: ServerProcess): Promise<string | undefined> {
  const url = server.env.DATABASE_URL;
  const schema = server.env.PARLEY_DATABASE_SCHEMA;
  if (url === undefined || schema === undefined) return undefined;
  return withPostgres(url, async (client) => {
    const { rows } = await client.query<{ autovacuum: string }>('show autovacuum');
    if (rows[0]?.autovacuum !== 'off') return undefined;
    const started = performance.now();
    const tables = await client.query<{ name: string }>(
      `select format('%I.%I', schemaname, tablename) as name from pg_tables where schemaname = $1`,
      [schema],
    );
    for (const { name } of tables.rows) await client.query(`vacuum (analyze) ${name}`);
    const seconds = (performance.now() - started) / 1000;
    return `autovacuum is off on this PostgreSQL: ran VACUUM (ANALYZE) of the ${tables.rows.length} tables of schema ${schema}, as autovacuum would have by now (${seconds.toFixed(1)} s)`;
  });
}
