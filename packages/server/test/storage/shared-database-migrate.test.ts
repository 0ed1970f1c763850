import pg from 'pg';
import { expect, inject, it } from 'vitest';
import { openStorage } from '../../src/storage/database.ts';
import { SchemaIntrospector } from '../../src/storage/dialects/schema-introspector.ts';
import { migrateToLatest } from '../../src/storage/migrator.ts';
import { createTestDatabase, describePostgres } from '../support/dialects.ts';

/**
 * Several deployments (or test runs) may share one PostgreSQL database, each in its own schema. One of them
 * dropping its schema must not stop another from starting: Kysely's own introspector asked every schema's
 * privileges by name and failed with "schema … does not exist" when a drop landed in between (CI met it once).
 */
describePostgres('deployments sharing one database', () => {
  it('migrate while other schemas are created and dropped around them', async () => {
    const url = inject('postgresUrl');
    const churn = new pg.Client({ connectionString: url });
    await churn.connect();
    const churning = { on: true };
    const churner = (async () => {
      for (let i = 0; churning.on; i += 1) {
        const name = `churn_${process.pid}_${i}`;
        await churn.query(`create schema ${name}`);
        await churn.query(`create table ${name}.kysely_migration (name text)`);
        await churn.query(`drop schema ${name} cascade`);
      }
    })();
    try {
      for (let round = 0; round < 6; round += 1) {
        const database = createTestDatabase('postgres');
        const storage = openStorage({
          dataDir: database.dataDir,
          databaseUrl: database.env.DATABASE_URL,
          databaseSchema: database.schema ?? 'public',
          databasePoolSize: 2,
        });
        try {
          const results = await migrateToLatest(storage);
          expect(results.every((result) => result.status === 'Success')).toBe(true);
          // A second start finds its own migration table, not another schema's.
          expect(await migrateToLatest(storage)).toEqual([]);
        } finally {
          await storage.close();
          await database.drop();
        }
      }
    } finally {
      churning.on = false;
      await churner;
      await churn.end();
    }
  });

  it("lists its own schema's tables only", async () => {
    const database = createTestDatabase('postgres');
    const other = createTestDatabase('postgres');
    const mine = openStorage({
      dataDir: database.dataDir,
      databaseUrl: database.env.DATABASE_URL,
      databaseSchema: database.schema ?? 'public',
      databasePoolSize: 1,
    });
    const admin = new pg.Client({ connectionString: inject('postgresUrl') });
    await admin.connect();
    try {
      await admin.query(`create schema ${other.schema}; create table ${other.schema}.someone_elses (id int)`);
      await admin.query(`create schema ${database.schema}; create table ${database.schema}.ours (id int)`);
      const introspector = new SchemaIntrospector(mine.kysely as never, database.schema ?? 'public');
      expect((await introspector.getTables()).map((table) => table.name)).toEqual(['ours']);
    } finally {
      await admin.end();
      await mine.close();
      await Promise.all([database.drop(), other.drop()]);
    }
  });
});
