import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ErasureBody } from '@parley/protocol';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { applicationRole } from '../../src/storage/dialects/postgres.ts';
import { describePostgres } from '../support/dialects.ts';
import { bearer, json, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import {
  erasureReaching,
  foundIn,
  newCanaryUser,
  postgresSchemaText,
} from '../compliance/gdpr/erasure-fixtures.ts';

/**
 * Production connects to PostgreSQL as the schema's owner, an ordinary login role (docs/deployment.md), and
 * tenant tables are under *forced* row-level security, which binds their owner too. Every other test connects
 * as a superuser, which row-level security never binds, so a system transaction that sees nothing in
 * production would pass there. Here the real server runs as a NOSUPERUSER NOBYPASSRLS role that owns a fresh
 * schema: migrations, the job runner claiming tenant jobs, the export expiry sweep and the start-up
 * re-application of the erasure register all work — and a tenant transaction of that same role still reads
 * and writes nothing of another tenant (the attack: a tenant-bound query naming another tenant's rows).
 */
const FAST_JOBS = { PARLEY_JOB_POLL_INTERVAL_MS: '100' };

describePostgres('system transactions as a schema owner without superuser rights', () => {
  const suffix = randomBytes(4).toString('hex');
  const owner = `sys_owner_${suffix}`;
  const schema = `t_sys_owner_${suffix}`;
  const restoredSchema = `r_sys_owner_${suffix}`;
  let admin: pg.Client;
  let ownerUrl: string;
  let server: TestServer;
  let tenantOwner: SignedIn;

  const ownSchemaEnv = (name: string) => ({ DATABASE_URL: ownerUrl, PARLEY_DATABASE_SCHEMA: name });
  /** Hands a schema and every table in it to the owner role, as restoring a dump as that role would. */
  const giveToOwner = async (name: string) => {
    await admin.query(`alter schema ${name} owner to ${owner}`);
    const { rows } = await admin.query<{ tablename: string }>(
      'select tablename from pg_tables where schemaname = $1',
      [name],
    );
    for (const { tablename } of rows) await admin.query(`alter table ${name}.${tablename} owner to ${owner}`);
  };

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: inject('postgresUrl') });
    await admin.connect();
    await admin.query(`create role ${owner} login nosuperuser nobypassrls nocreaterole nocreatedb`);
    await admin.query(`do $$ begin create role ${applicationRole} nologin;
      exception when duplicate_object or unique_violation then null; end $$`);
    await admin.query(`grant ${applicationRole} to ${owner}`);
    await admin.query(`create schema ${schema} authorization ${owner}`);
    const url = new URL(inject('postgresUrl'));
    url.username = owner;
    ownerUrl = url.toString();
    server = await startTestServer({ dialect: 'postgres', env: { ...FAST_JOBS, ...ownSchemaEnv(schema) } });
    tenantOwner = await newTenantOwner(server, 'Owner Role Clinic');
  });

  afterAll(async () => {
    await server.close();
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.query(`drop schema if exists ${restoredSchema} cascade`);
    await admin.query(`drop owned by ${owner}`);
    await admin.query(`drop role ${owner}`);
    await admin.end();
  });

  it('runs as an ordinary role that owns the tables and is bound by their forced row-level security', async () => {
    const { rows } = await admin.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
      'select rolsuper, rolbypassrls from pg_roles where rolname = $1',
      [owner],
    );
    expect(rows[0]).toEqual({ rolsuper: false, rolbypassrls: false });
    const tables = await admin.query<{ owner: string; forced: boolean; policies: string[] }>(
      `select pg_get_userbyid(c.relowner) as owner, c.relforcerowsecurity as forced,
         array(select polname::text from pg_policy p where p.polrelid = c.oid order by polname) as policies
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = $1 and c.relname in ('data_exports', 'users', 'jobs')`,
      [schema],
    );
    expect(tables.rows).toHaveLength(3);
    for (const table of tables.rows)
      expect(table).toEqual({ owner, forced: true, policies: ['system_context', 'tenant_isolation'] });
  });

  it('the job runner claims an export job, and the expiry sweep destroys the archive once it expired', async () => {
    const member = await newCanaryUser(server, tenantOwner);
    const asked = await server.request(`/v1/users/${member.userId}/exports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenantOwner.accessToken}` },
    });
    expect(asked.status, asked.text).toBe(202);
    const exportId = asked.json<{ id: string }>().id;
    const exported = async () =>
      (await server.request(`/v1/exports/${exportId}`, bearer(tenantOwner.accessToken))).json<{
        status: string;
        destroyedReason: string | null;
      }>();
    for (let tries = 0; (await exported()).status !== 'ready'; tries += 1) {
      if (tries > 600) throw new Error('the export did not finish');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Expired an hour ago (the superuser moves the date; the server's own statements run as the owner).
    await admin.query(`update ${schema}.data_exports set expires_at = $1 where id = $2`, [
      Date.now() - 3_600_000,
      exportId,
    ]);
    expect(await server.app.services.exports.sweep()).toMatchObject({ expired: 1 });
    expect(await exported()).toMatchObject({ status: 'destroyed', destroyedReason: 'expired' });
  });

  it('a copy from before an erasure, restored and started as the owner, is erased again at start-up', async () => {
    const victim = await newCanaryUser(server, tenantOwner);
    const canaries = Object.values(victim.canaries);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-owner-copy-'));
    const dumpFile = path.join(dir, 'dump.sql');
    execFileSync('pg_dump', ['--no-owner', '--schema', schema, '--file', dumpFile, inject('postgresUrl')]);
    const erased = await server.request(
      `/v1/users/${victim.userId}/erasure`,
      json({ graceDays: 0 }, tenantOwner.accessToken),
    );
    expect(erased.status, erased.text).toBe(202);
    await erasureReaching(server, tenantOwner.accessToken, victim.userId);

    const dump = readFileSync(dumpFile, 'utf8').replaceAll(schema, restoredSchema);
    execFileSync('psql', ['--quiet', '--set', 'ON_ERROR_STOP=1', inject('postgresUrl')], { input: dump });
    await giveToOwner(restoredSchema);
    // What the copy holds of the victim: their key and their messages' text (ciphertexts: no canary in clear).
    const heldOfVictim = async () => {
      const { rows } = await admin.query<{ keys: number; bodies: number }>(
        `select (select count(*)::int from ${restoredSchema}.user_keys where user_id = $1 and wrapped_key is not null) as keys,
           (select count(*)::int from ${restoredSchema}.messages where sender_id = $1 and body is not null) as bodies`,
        [victim.userId],
      );
      return rows[0];
    };
    expect(await heldOfVictim()).toEqual({ keys: 1, bodies: 2 });
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-owner-restored-'));
    for (const name of ['master.key', 'erasures.log'])
      copyFileSync(path.join(server.database.dataDir, name), path.join(dataDir, name));
    const again = await startTestServer({
      dialect: 'postgres',
      env: { ...FAST_JOBS, ...ownSchemaEnv(restoredSchema), PARLEY_DATA_DIR: dataDir },
    });
    try {
      expect(
        again.logs.entries().some((line) => line.msg === 'erased again accounts the erasure register names'),
      ).toBe(true);
      const erasure = await again.request(
        `/v1/users/${victim.userId}/erasure`,
        bearer(tenantOwner.accessToken),
      );
      expect(erasure.json<ErasureBody>()).toMatchObject({ status: 'completed', source: 'register' });
      expect(await heldOfVictim()).toEqual({ keys: 0, bodies: 0 });
      expect(foundIn(await postgresSchemaText(restoredSchema), canaries)).toEqual([]);
      const history = await again.request(
        `/v1/dialogs/${victim.dialogId}/messages`,
        bearer(tenantOwner.accessToken),
      );
      expect(history.status).toBe(200);
      expect(foundIn(history.text, canaries)).toEqual([]);
    } finally {
      await again.close();
    }
  });

  it('a tenant transaction of the same role reads and writes nothing of another tenant', async () => {
    const other = await newTenantOwner(server, 'Other Clinic');
    const storage = server.app.storage;
    // The system context sees both tenants' users ...
    const everyone = await storage.withSystem((tx) => tx.selectFrom('users').select('tenant_id').execute());
    expect(new Set(everyone.map((row) => row.tenant_id))).toEqual(
      new Set([tenantOwner.tenantId, other.tenantId]),
    );
    // ... a transaction bound to one tenant, asking for the other's rows by name, sees none of them.
    const crossed = await storage.withTenant(other.tenantId, (tx) =>
      tx.selectFrom('users').select('id').where('tenant_id', '=', tenantOwner.tenantId).execute(),
    );
    expect(crossed).toEqual([]);
    const unfiltered = await storage.withTenant(other.tenantId, (tx) =>
      tx.selectFrom('users').select('tenant_id').execute(),
    );
    expect(new Set(unfiltered.map((row) => row.tenant_id))).toEqual(new Set([other.tenantId]));
    const exports = await storage.withTenant(other.tenantId, (tx) =>
      tx.selectFrom('data_exports').select('id').execute(),
    );
    expect(exports).toEqual([]);
    // Writing into the other tenant is refused by the policy, not merely filtered.
    await expect(
      storage.withTenant(other.tenantId, (tx) =>
        tx
          .updateTable('users')
          .set({ updated_at: 0 })
          .where('tenant_id', '=', tenantOwner.tenantId)
          .returning('id')
          .execute(),
      ),
    ).resolves.toEqual([]);
    await expect(
      storage.withTenant(other.tenantId, (tx) =>
        tx
          .insertInto('user_roles')
          .values({ tenant_id: tenantOwner.tenantId, user_id: other.userId, role: 'owner' })
          .execute(),
      ),
    ).rejects.toThrow(/row-level security/);
  });
});
