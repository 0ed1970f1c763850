import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryHash, PII_MINIMISED_ACTION } from '../../src/compliance/audit/audit-entry.ts';
import { createAuditMinimiser } from '../../src/compliance/audit/audit-minimiser.ts';
import { truncateIp } from '../../src/compliance/retention/ip-truncation.ts';
import {
  createNetworkDataMinimisation,
  DEFAULT_IP_MINIMISATION_DAYS,
} from '../../src/compliance/retention/network-data-minimisation-task.ts';
import { createSessionDeviceMinimiser } from '../../src/compliance/retention/session-device-minimiser.ts';
import { openDevice, sealDevice, type SessionDevice } from '../../src/identity/sessions/session-device.ts';
import { newId } from '../../src/ids.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { type AuditFixture, openAuditFixture } from './audit-fixture.ts';

describe('IP truncation', () => {
  it('keeps the /24 of an IPv4 address and the /48 of an IPv6 address', () => {
    expect(truncateIp('203.0.113.77')).toBe('203.0.113.0/24');
    expect(truncateIp('::ffff:198.51.100.9')).toBe('198.51.100.0/24');
    expect(truncateIp('2001:db8:85a3:8d3:1319:8a2e:370:7348')).toBe('2001:db8:85a3::/48');
    expect(truncateIp('2001:0db8:0000:0001::1')).toBe('2001:db8:0::/48');
    expect(truncateIp('2001:db8::1')).toBe('2001:db8:0::/48');
    expect(truncateIp('::1')).toBe('0:0:0::/48');
    expect(truncateIp('fe80::1%eth0')).toBe('fe80:0:0::/48');
  });

  it('drops what is not an address instead of keeping it', () => {
    expect(truncateIp('not an ip')).toBeNull();
    expect(truncateIp('203.0.113.256')).toBeNull();
    expect(truncateIp('')).toBeNull();
  });
});

/**
 * Data minimisation: after the tenant's rule (default 30 days) the IP addresses kept with sessions and audit
 * entries are truncated and user agents dropped, while the audit chain still verifies. Attacks: someone who
 * can write the database erases a young entry's IP as if minimised, or swaps a sealed IP: `verify` fails.
 */
describeEachDialect('network data minimisation', (dialect) => {
  let f: AuditFixture;
  const DAY = 86_400_000;
  const now = () => f.clock.time;
  const auditMinimiser = () =>
    createAuditMinimiser({
      storage: f.storage,
      audit: f.audit,
      fieldCipher: f.test.security.fieldCipher,
      clock: { now },
      batchSize: 3,
    });
  const sessionMinimiser = () =>
    createSessionDeviceMinimiser({
      storage: f.storage,
      fieldCipher: f.test.security.fieldCipher,
      clock: { now },
      batchSize: 2,
    });

  beforeAll(async () => {
    f = await openAuditFixture(dialect, { checkpointEvery: 5, batchSize: 4 });
  });

  afterAll(async () => {
    await f.test.close();
  });

  const entries = async (tenant: string) =>
    (await f.storage.withTenant(tenant, (tx) => f.audit.query(tx, tenant, {}, { limit: 500, order: 'asc' })))
      .entries;

  /** 7 entries 40 days old, then 3 fresh ones; answers the 30-day cut-off. */
  const auditChain = async () => {
    const tenant = await f.newTenant();
    await f.recordMany(tenant, 7);
    f.clock.time += 40 * DAY;
    await f.recordMany(tenant, 3);
    return { tenant, cutOff: now() - 30 * DAY };
  };

  it('truncates the ip and drops the user agent of audit entries past the rule; the chain still verifies', async () => {
    const { tenant, cutOff } = await auditChain();
    expect(await auditMinimiser().minimise(tenant, cutOff, truncateIp)).toBe(7);
    const shown = await entries(tenant);
    const old = shown.filter((entry) => entry.seq <= 7);
    expect(old.map((entry) => [entry.ip, entry.userAgent])).toEqual(old.map(() => ['203.0.113.0/24', null]));
    const fresh = shown.filter((entry) => entry.seq >= 8 && entry.seq <= 10);
    expect(fresh.map((entry) => entry.ip)).toEqual(['203.0.113.1', '203.0.113.2', '203.0.113.3']);
    expect(fresh.every((entry) => entry.userAgent?.startsWith('ParleyTest/'))).toBe(true);
    // The record came before the change, and covers exactly the minimised entries.
    const record = shown.find((entry) => entry.action === PII_MINIMISED_ACTION);
    expect(record?.details).toMatchObject({ throughSeq: 7 });
    expect(await f.audit.verify(f.storage, tenant, { mustExist: true })).toMatchObject({ ok: true });
    // Nothing in the stored rows still holds the full address or the user agent.
    const rows = await f.rows(tenant);
    expect(rows.filter((row) => row.seq <= 7).every((row) => row.user_agent === null)).toBe(true);
  });

  it('is idempotent: a second pass changes nothing and records nothing', async () => {
    const { tenant, cutOff } = await auditChain();
    await auditMinimiser().minimise(tenant, cutOff, truncateIp);
    const before = await f.rows(tenant);
    expect(await auditMinimiser().minimise(tenant, cutOff, truncateIp)).toBe(0);
    expect(await f.rows(tenant)).toEqual(before);
  });

  it('attack: a young entry’s ip erased as if minimised fails verification', async () => {
    const { tenant, cutOff } = await auditChain();
    await auditMinimiser().minimise(tenant, cutOff, truncateIp);
    await f.asTenant(tenant, (tx) =>
      tx
        .updateTable('audit_log')
        .set({ ip: null, user_agent: null, pii_minimised_at: now() })
        .where('tenant_id', '=', tenant)
        .where('seq', '=', 9)
        .execute(),
    );
    expect(await f.audit.verify(f.storage, tenant)).toMatchObject({
      ok: false,
      firstBad: { seq: 9, reason: 'minimised without record' },
    });
  });

  it('attack: a sealed ip swapped or removed without the minimisation mark fails verification', async () => {
    const tenant = await f.newTenant();
    await f.recordMany(tenant, 3);
    const rows = await f.rows(tenant);
    await f.asTenant(tenant, (tx) =>
      tx
        .updateTable('audit_log')
        .set({ ip: rows[0]?.ip ?? null })
        .where('tenant_id', '=', tenant)
        .where('seq', '=', 2)
        .execute(),
    );
    expect(await f.audit.verify(f.storage, tenant)).toMatchObject({
      ok: false,
      firstBad: { seq: 2, reason: 'hash mismatch' },
    });
    // Minimisation does not hide it: the entry whose ip no longer opens is left as it is, the others go on.
    f.clock.time += 40 * DAY;
    expect(await auditMinimiser().minimise(tenant, now() - 30 * DAY, truncateIp)).toBe(2);
    expect(await f.audit.verify(f.storage, tenant)).toMatchObject({
      ok: false,
      firstBad: { seq: 2, reason: 'hash mismatch' },
    });
  });

  it('leaves entries written before migration 0023 (hashing their ciphertexts) as they are, and they verify', async () => {
    const tenant = await f.newTenant();
    await f.recordMany(tenant, 2);
    // Rewrite both into the earlier format, as a database migrated from before 0023 holds them.
    const written = await f.rows(tenant);
    await f.asTenant(tenant, async (tx) => {
      let prevHash = '0'.repeat(64);
      for (const row of written) {
        const legacy = { ...row, prev_hash: prevHash, pii_commitment: null };
        legacy.hash = entryHash(legacy);
        prevHash = legacy.hash;
        await tx
          .updateTable('audit_log')
          .set({ prev_hash: legacy.prev_hash, pii_commitment: null, hash: legacy.hash })
          .where('tenant_id', '=', tenant)
          .where('seq', '=', row.seq)
          .execute();
      }
      await tx.updateTable('audit_heads').set({ hash: prevHash }).where('tenant_id', '=', tenant).execute();
    });
    expect(await f.audit.verify(f.storage, tenant)).toMatchObject({ ok: true, entries: 2 });
    f.clock.time += 40 * DAY;
    expect(await auditMinimiser().minimise(tenant, now(), truncateIp)).toBe(0);
    expect((await entries(tenant)).map((entry) => entry.ip)).toEqual(['203.0.113.1', '203.0.113.2']);
    // Their hash covers the ciphertexts themselves: a swapped ip is still a hash mismatch.
    const rows = await f.rows(tenant);
    await f.asTenant(tenant, (tx) =>
      tx
        .updateTable('audit_log')
        .set({ ip: rows[0]?.ip ?? null })
        .where('tenant_id', '=', tenant)
        .where('seq', '=', 2)
        .execute(),
    );
    expect(await f.audit.verify(f.storage, tenant)).toMatchObject({
      ok: false,
      firstBad: { seq: 2, reason: 'hash mismatch' },
    });
  });

  describe('sessions', () => {
    const newSession = async (tenant: string, createdAt: number, device: SessionDevice) => {
      const id = newId();
      await f.storage.withTenant(tenant, async (tx) => {
        const sealed = await sealDevice(f.test.security.fieldCipher, tx, tenant, id, device);
        await tx
          .insertInto('sessions')
          .values({
            id,
            tenant_id: tenant,
            user_id: null,
            client_id: null,
            scopes: 'chat',
            access_token_hash: newId(),
            access_expires_at: createdAt + DAY,
            refresh_token_hash: null,
            refresh_expires_at: null,
            device: sealed,
            created_at: createdAt,
            last_used_at: createdAt,
            revoked_at: null,
            revoked_reason: null,
          })
          .execute();
      });
      return id;
    };
    const device = (tenant: string, id: string) =>
      f.storage.withTenant(tenant, async (tx) => {
        const row = await tx
          .selectFrom('sessions')
          .select(['device', 'device_minimised_at'])
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        return openDevice(f.test.security.fieldCipher, tx, tenant, id, row.device ?? '');
      });

    it('truncates the ip and drops the user agent of sessions opened before the rule, once', async () => {
      const tenant = await f.newTenant();
      const old = await newSession(tenant, now() - 31 * DAY, {
        ip: '2001:db8:85a3:1::7',
        userAgent: 'Old/1',
      });
      const oldV4 = await newSession(tenant, now() - 40 * DAY, { ip: '198.51.100.23', userAgent: 'Old/2' });
      const bogus = await newSession(tenant, now() - 40 * DAY, { ip: 'unknown', userAgent: 'Old/3' });
      const fresh = await newSession(tenant, now() - 29 * DAY, { ip: '198.51.100.24', userAgent: 'New/1' });
      expect(await sessionMinimiser().minimise(tenant, now() - 30 * DAY, truncateIp)).toBe(3);
      expect(await device(tenant, old)).toEqual({ ip: '2001:db8:85a3::/48' });
      expect(await device(tenant, oldV4)).toEqual({ ip: '198.51.100.0/24' });
      expect(await device(tenant, bogus)).toEqual({});
      expect(await device(tenant, fresh)).toEqual({ ip: '198.51.100.24', userAgent: 'New/1' });
      expect(await sessionMinimiser().minimise(tenant, now() - 30 * DAY, truncateIp)).toBe(0);
    });
  });

  it(`the pass applies each tenant's rule (default ${DEFAULT_IP_MINIMISATION_DAYS} days) to sessions and audit entries`, async () => {
    const strict = await f.newTenant();
    await f.recordMany(strict, 2);
    f.clock.time += 10 * DAY;
    const lenient = await f.newTenant();
    await f.recordMany(lenient, 2);
    f.clock.time += 10 * DAY;
    const pass = await createNetworkDataMinimisation({
      storage: f.storage,
      clock: { now },
      sessions: sessionMinimiser(),
      audit: auditMinimiser(),
      ipMinimisationDays: (tenantId) =>
        Promise.resolve(tenantId === strict ? 15 : DEFAULT_IP_MINIMISATION_DAYS),
    }).run();
    expect(pass.failed.map(({ tenantId, error }) => ({ tenantId, error: String(error) }))).toEqual([]);
    expect((await entries(strict)).filter((entry) => entry.seq <= 2).map((entry) => entry.ip)).toEqual([
      '203.0.113.0/24',
      '203.0.113.0/24',
    ]);
    expect((await entries(lenient)).map((entry) => entry.ip)).toEqual(['203.0.113.1', '203.0.113.2']);
    expect(await f.audit.verify(f.storage, strict)).toMatchObject({ ok: true });
  });
});
