import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { systemClock } from '../packages/server/src/clock.js';
import { AuditLog } from '../packages/server/src/compliance/audit/audit-log.js';
import { openSecurityCore, type SecurityCore } from '../packages/server/src/crypto/security-core.js';
import { newId } from '../packages/server/src/ids.js';
import { openStorage, type Storage } from '../packages/server/src/storage/database.js';
import type { DialectName } from '../packages/server/src/storage/dialects/dialect-adapter.js';
import { migrateToLatest } from '../packages/server/src/storage/migrator.js';

const APPEND_SECONDS = 3;
const CIPHER_SECONDS = 2;
const CIPHER_OPS_PER_TRANSACTION = 1000;
const postgresUrl = process.env.PARLEY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Runs `step` repeatedly for about `seconds`; returns completed units per second. */
async function rate(seconds: number, unitsPerStep: number, step: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(seconds * 1e9);
  let units = 0;
  while (process.hrtime.bigint() < deadline) {
    await step();
    units += unitsPerStep;
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  return Math.round(units / elapsed);
}

async function newTenant(storage: Storage): Promise<string> {
  const id = newId();
  await storage.withSystem((tx) =>
    tx
      .insertInto('tenants')
      .values({ id, name: 'Bench', status: 'active', created_at: Date.now() })
      .execute(),
  );
  return id;
}

async function measure(
  storage: Storage,
  security: SecurityCore,
): Promise<{ appends: number; fields: number }> {
  const tenantId = await newTenant(storage);
  const audit = new AuditLog({
    fieldCipher: security.fieldCipher,
    signingKeys: security.signingKeys,
    clock: systemClock,
    dialect: storage.dialect,
  });
  let n = 0;
  // A typical entry: a user acting through the API, ip and user agent sealed, small details.
  const append = () =>
    storage.withTenant(tenantId, (tx) =>
      audit.append(tx, tenantId, {
        actor: { type: 'user', id: 'bench-user', sessionId: 'bench-session' },
        action: 'message.sent',
        target: { type: 'dialog', id: 'bench-dialog' },
        outcome: 'success',
        ip: '198.51.100.7',
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) ParleyBench/1.0',
        requestId: `request-${(n += 1)}`,
        details: { size: n },
      }),
    );
  for (let warm = 0; warm < 50; warm += 1) await append();
  const appends = await rate(APPEND_SECONDS, 1, append);

  const location = { tenantId, table: 'bench', column: 'value', rowId: 'row' };
  const fields = await rate(CIPHER_SECONDS, CIPHER_OPS_PER_TRANSACTION, () =>
    storage.withTenant(tenantId, async (tx) => {
      for (let op = 0; op < CIPHER_OPS_PER_TRANSACTION; op += 1) {
        const sealed = await security.fieldCipher.sealForTenant(tx, location, 'alice@example.com');
        await security.fieldCipher.open(tx, location, sealed);
      }
    }),
  );
  const verdict = await audit.verify(storage, tenantId);
  if (!verdict.ok) throw new Error(`bench chain does not verify: ${JSON.stringify(verdict)}`);
  return { appends, fields };
}

async function benchDialect(dialect: DialectName, dataDir: string): Promise<Record<string, number>> {
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const storage = openStorage({
    dataDir,
    databaseUrl: dialect === 'postgres' ? postgresUrl : undefined,
    databaseSchema: schema,
    databasePoolSize: 4,
  });
  try {
    await migrateToLatest(storage);
    const security = await openSecurityCore({
      storage,
      clock: systemClock,
      masterKeyFile: join(dataDir, `${dialect}-master.key`),
      erasureLogFile: join(dataDir, `${dialect}-erasures.log`),
      generateIfMissing: true,
    });
    const { appends, fields } = await measure(storage, security);
    return { [`${dialect}AppendsPerSecond`]: appends, [`${dialect}FieldSealOpenPerSecond`]: fields };
  } finally {
    if (dialect === 'postgres')
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(storage.kysely);
    await storage.close();
  }
}

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Audit appends per second, each in its own transaction (one sealed ip and user agent, a signed checkpoint
 * every 100), on SQLite (`synchronous = FULL`, so every commit is an fsync) and, when reachable
 * (`PARLEY_BENCH_DATABASE_URL`, default the local test database), PostgreSQL in a throw-away schema; and
 * field-cipher seal + open pairs per second, 1000 pairs per transaction.
 */
export async function runAuditBench(): Promise<Record<string, number>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-audit-bench-'));
  try {
    const results = await benchDialect('sqlite', dataDir);
    if (await postgresReachable()) Object.assign(results, await benchDialect('postgres', dataDir));
    return results;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
