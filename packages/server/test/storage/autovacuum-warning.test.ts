import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * An operator who runs PostgreSQL with autovacuum off gets stale planner statistics and, with them, plans that
 * read a tenant's whole history per search candidate (docs/performance.md). The server says so at start-up,
 * once, in its log; it says nothing when autovacuum is on, and nothing on SQLite.
 */
describeEachDialect('the autovacuum warning at start-up', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
  });

  afterAll(async () => {
    await server.close();
  });

  it('is logged exactly when PostgreSQL runs with autovacuum off', async () => {
    const off =
      dialect === 'postgres' &&
      (
        await sql<{ setting: string }>`select setting from pg_settings where name = 'autovacuum'`.execute(
          server.app.storage.kysely,
        )
      ).rows[0]?.setting === 'off';
    const warnings = server.logs
      .entries()
      .filter((entry) => String(entry.msg).startsWith('PostgreSQL autovacuum is off'));
    expect(warnings).toHaveLength(off ? 1 : 0);
    if (off) expect(warnings[0]?.level).toBe(40);
  });
});
