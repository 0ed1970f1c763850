import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, inject } from 'vitest';
import type { DialectName } from '../../src/storage/dialects/dialect-adapter.ts';

export const dialectNames: readonly DialectName[] = ['sqlite', 'postgres'];

/** Runs a suite once per dialect; the PostgreSQL run is skipped (outside CI) when PostgreSQL is down. */
export function describeEachDialect(title: string, suite: (dialect: DialectName) => void): void {
  for (const dialect of dialectNames) {
    describe.skipIf(dialect === 'postgres' && !inject('postgresUrl'))(`${title} [${dialect}]`, () => {
      suite(dialect);
    });
  }
}

export function describePostgres(title: string, suite: () => void): void {
  describe.skipIf(!inject('postgresUrl'))(`${title} [postgres]`, suite);
}

export function describeRedis(title: string, suite: () => void): void {
  describe.skipIf(!inject('redisUrl'))(`${title} [redis]`, suite);
}

/** A place for one test's data: a temp data dir, and on PostgreSQL a fresh schema dropped afterwards. */
export interface TestDatabase {
  dataDir: string;
  env: Record<string, string>;
  schema?: string;
  drop(): Promise<void>;
}

export function createTestDatabase(dialect: DialectName): TestDatabase {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-test-'));
  const env: Record<string, string> = { PARLEY_DATA_DIR: dataDir };
  const removeDir = () => {
    rmSync(dataDir, { recursive: true, force: true });
  };
  if (dialect === 'sqlite') {
    return {
      dataDir,
      env,
      drop: () => {
        removeDir();
        return Promise.resolve();
      },
    };
  }
  const url = inject('postgresUrl');
  const schema = `t_${randomBytes(6).toString('hex')}`;
  return {
    dataDir,
    schema,
    env: { ...env, DATABASE_URL: url, PARLEY_DATABASE_SCHEMA: schema },
    async drop() {
      removeDir();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await client.end();
      }
    },
  };
}
