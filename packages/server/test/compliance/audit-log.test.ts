import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canonicalJson,
  checkpointPayload,
  entryHash,
  GENESIS_HASH,
  SYSTEM_TENANT_ID,
} from '../../src/compliance/audit/audit-entry.ts';
import type { AuditEntryView, AuditQueryFilter } from '../../src/compliance/audit/audit-log.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { type AuditFixture, openAuditFixture, sampleEvent } from './audit-fixture.ts';

describe('canonicalJson', () => {
  it('sorts keys at every depth, drops undefined properties and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x', null], c: undefined, b: true } })).toBe(
      '{"a":{"b":true,"d":[1,"x",null]},"b":1}',
    );
  });

  it('refuses values without one obvious encoding', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson([undefined])).toThrow(TypeError);
    expect(() => canonicalJson({ when: new Date(0) })).toThrow(TypeError);
  });
});

describeEachDialect('audit log', (dialect) => {
  let f: AuditFixture;

  beforeAll(async () => {
    f = await openAuditFixture(dialect, { checkpointEvery: 5, batchSize: 4 });
  });

  afterAll(async () => {
    await f.test.close();
  });

  it('links appended entries into a hash chain from the genesis hash, and the chain verifies', async () => {
    const tenant = await f.newTenant();
    await f.recordMany(tenant, 7);
    const rows = await f.rows(tenant);
    expect(rows.map((row) => row.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    rows.forEach((row, index) => {
      expect(row.prev_hash).toBe(index === 0 ? GENESIS_HASH : rows[index - 1]?.hash);
      expect(row.hash).toBe(entryHash(row));
    });
    expect(await f.head(tenant)).toEqual({ tenant_id: tenant, seq: 7, hash: rows[6]?.hash });
    expect(await f.audit.verify(f.storage, tenant)).toEqual({ ok: true, entries: 7, checkpoints: 1 });
  });

  it('verifies an empty chain as intact', async () => {
    expect(await f.audit.verify(f.storage, await f.newTenant())).toEqual({
      ok: true,
      entries: 0,
      checkpoints: 0,
    });
  });

  it('rolls an entry back with the transaction that recorded it; the next append reuses its seq', async () => {
    const tenant = await f.newTenant();
    await f.recordMany(tenant, 2);
    await expect(
      f.storage.withTenant(tenant, async (tx) => {
        await f.audit.append(tx, tenant, sampleEvent(3, { action: 'message.deleted' }));
        throw new Error('the change being recorded failed');
      }),
    ).rejects.toThrow('the change being recorded failed');
    expect((await f.rows(tenant)).map((row) => row.action)).toEqual(['message.sent', 'message.sent']);
    expect(await f.audit.verify(f.storage, tenant)).toMatchObject({ ok: true, entries: 2 });
    expect((await f.record(tenant, sampleEvent(3))).seq).toBe(3);
    expect(await f.audit.verify(f.storage, tenant)).toMatchObject({ ok: true, entries: 3 });
  });

  it('stores ip and user agent sealed, never in plaintext, and query opens them', async () => {
    const tenant = await f.newTenant();
    const { id } = await f.record(tenant, sampleEvent(42));
    const [row] = await f.rows(tenant);
    expect(row?.ip).toMatch(/^pf1\./);
    expect(row?.user_agent).toMatch(/^pf1\./);
    const stored = JSON.stringify(row);
    expect(stored).not.toContain('203.0.113.42');
    expect(stored).not.toContain('ParleyTest/42');
    const page = await f.storage.withTenant(tenant, (tx) =>
      f.audit.query(tx, tenant, {}, { limit: 10, order: 'asc' }),
    );
    expect(page.entries).toEqual([
      {
        id,
        seq: 1,
        occurredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        actor: { type: 'user', id: 'user-0', sessionId: 'session-42' },
        action: 'message.sent',
        target: { type: 'message', id: 'message-42' },
        outcome: 'success',
        ip: '203.0.113.42',
        userAgent: 'ParleyTest/42 (X11; Linux)',
        requestId: 'request-42',
        details: { n: 42, nested: { list: [42, 'x', null, true] } },
        hash: row?.hash,
      },
    ]);
  });

  it('writes a checkpoint signed over tenant, seq, hash and time every N entries', async () => {
    const tenant = await f.newTenant();
    await f.recordMany(tenant, 11);
    const rows = await f.rows(tenant);
    const checkpoints = await f.checkpoints(tenant);
    expect(checkpoints.map((checkpoint) => checkpoint.seq)).toEqual([5, 10]);
    for (const checkpoint of checkpoints) {
      expect(checkpoint.hash).toBe(rows[checkpoint.seq - 1]?.hash);
      const payload = checkpointPayload(checkpoint);
      expect(await f.test.security.signingKeys.verify(checkpoint.key_id, payload, checkpoint.signature)).toBe(
        true,
      );
    }
    expect(await f.audit.verify(f.storage, tenant)).toEqual({ ok: true, entries: 11, checkpoints: 2 });
  });

  it('keeps system-wide events in their own chain under the tenant id "system"', async () => {
    const before = await f.audit.verify(f.storage, SYSTEM_TENANT_ID);
    const { seq } = await f.record(SYSTEM_TENANT_ID, {
      actor: { type: 'system' },
      action: 'server.started',
      outcome: 'success',
    });
    expect(seq).toBe(before.entries + 1);
    expect(await f.audit.verify(f.storage, SYSTEM_TENANT_ID)).toMatchObject({ ok: true, entries: seq });
    // The system chain has no tenant row, hence no data key: personal fields are refused, not left clear.
    await expect(
      f.record(SYSTEM_TENANT_ID, {
        actor: { type: 'staff' },
        action: 'staff.login',
        outcome: 'success',
        ip: '::1',
      }),
    ).rejects.toThrow(/no data key/);
  });

  it('refuses malformed entries before writing anything', async () => {
    const tenant = await f.newTenant();
    await expect(f.record(tenant, sampleEvent(1, { action: 'Not Dotted' }))).rejects.toThrow(TypeError);
    await expect(f.record(tenant, sampleEvent(1, { action: 'single' }))).rejects.toThrow(TypeError);
    expect(await f.rows(tenant)).toEqual([]);
  });

  it('keeps tenants apart: one tenant neither sees nor breaks another chain', async () => {
    const [a, b] = [await f.newTenant(), await f.newTenant()];
    await f.recordMany(a, 3);
    await f.recordMany(b, 2);
    const seen = await f.storage.withTenant(b, (tx) => f.audit.query(tx, b, {}, { limit: 10, order: 'asc' }));
    expect(seen.entries.map((entry) => entry.seq)).toEqual([1, 2]);
    expect(await f.audit.verify(f.storage, a)).toMatchObject({ ok: true, entries: 3 });
    expect(await f.audit.verify(f.storage, b)).toMatchObject({ ok: true, entries: 2 });
  });

  describe('query and export', () => {
    let tenant: string;
    let base: number;

    beforeAll(async () => {
      tenant = await f.newTenant();
      base = f.clock.time;
      const events = [
        sampleEvent(1, { action: 'auth.login', actor: { type: 'user', id: 'alice' } }),
        sampleEvent(2, { action: 'auth.logout', actor: { type: 'user', id: 'alice' } }),
        sampleEvent(3, { action: 'authz.granted', actor: { type: 'staff', id: 'sam' } }),
        sampleEvent(4, { action: 'auth_2.login', actor: { type: 'user', id: 'bob' } }),
        sampleEvent(5, { action: 'authx2.login', actor: { type: 'user', id: 'bob' } }),
        sampleEvent(6, { action: 'tenant.updated', actor: { type: 'staff', id: 'sam' }, target: undefined }),
        sampleEvent(7, { action: 'auth.login', actor: { type: 'client', id: 'bot' } }),
        sampleEvent(8, { action: 'message.sent', target: { type: 'dialog', id: 'd-1' } }),
        sampleEvent(9, { action: 'message.sent', target: { type: 'dialog', id: 'd-2' } }),
        sampleEvent(10, { action: 'auth.login', actor: { type: 'user', id: 'alice' } }),
        sampleEvent(11, { action: 'message.sent' }),
      ];
      // Entries 1–5 are stamped base + n·1000: the clock adds 1 s per read (checkpoints read it too).
      for (const event of events) await f.record(tenant, event);
    });

    const select = async (filter: AuditQueryFilter, order: 'asc' | 'desc' = 'asc') =>
      (
        await f.storage.withTenant(tenant, (tx) => f.audit.query(tx, tenant, filter, { limit: 500, order }))
      ).entries.map((entry) => entry.seq);

    it('filters by actor id and actor type', async () => {
      expect(await select({ actorId: 'alice' })).toEqual([1, 2, 10]);
      expect(await select({ actorType: 'staff' })).toEqual([3, 6]);
      expect(await select({ actorType: 'user', actorId: 'bob' })).toEqual([4, 5]);
    });

    it('filters by exact action and by action prefix, treating _ literally', async () => {
      expect(await select({ action: 'auth.login' })).toEqual([1, 7, 10]);
      expect(await select({ action: 'auth.*' })).toEqual([1, 2, 7, 10]);
      expect(await select({ action: 'auth_2.*' })).toEqual([4]);
      await expect(select({ action: 'auth.%' })).rejects.toMatchObject({ code: 'validation_failed' });
    });

    it('filters by target, and by time from (inclusive) to (exclusive)', async () => {
      expect(await select({ targetType: 'dialog' })).toEqual([8, 9]);
      expect(await select({ targetType: 'dialog', targetId: 'd-2' })).toEqual([9]);
      expect(await select({ from: base + 3000, to: base + 6000 })).toEqual([3, 4, 5]);
      expect(await select({ from: base + 3000, to: base + 6000 }, 'desc')).toEqual([5, 4, 3]);
    });

    it('pages with an opaque cursor in both orders, without duplicates or gaps', async () => {
      for (const order of ['asc', 'desc'] as const) {
        const seen: number[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await f.storage.withTenant(tenant, (tx) =>
            f.audit.query(tx, tenant, {}, { cursor, limit: 3, order }),
          );
          seen.push(...page.entries.map((entry) => entry.seq));
          if (page.nextCursor !== undefined) expect(page.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor !== undefined);
        const all = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        expect(seen).toEqual(order === 'asc' ? all : all.reverse());
        expect(pages).toBe(4);
      }
    });

    it('pages a filtered query and ends without a cursor when the last page is exactly full', async () => {
      const first = await f.storage.withTenant(tenant, (tx) =>
        f.audit.query(tx, tenant, { action: 'auth.*' }, { limit: 2, order: 'desc' }),
      );
      expect(first.entries.map((entry) => entry.seq)).toEqual([10, 7]);
      const second = await f.storage.withTenant(tenant, (tx) =>
        f.audit.query(
          tx,
          tenant,
          { action: 'auth.*' },
          { cursor: first.nextCursor, limit: 2, order: 'desc' },
        ),
      );
      expect(second.entries.map((entry) => entry.seq)).toEqual([2, 1]);
      expect(second.nextCursor).toBeUndefined();
    });

    it('refuses a page limit outside 1..500 and a cursor it did not make', async () => {
      const query = (limit: number, cursor?: string) =>
        f.storage.withTenant(tenant, (tx) => f.audit.query(tx, tenant, {}, { cursor, limit, order: 'asc' }));
      await expect(query(0)).rejects.toMatchObject({ code: 'validation_failed' });
      await expect(query(501)).rejects.toMatchObject({ code: 'validation_failed' });
      await expect(query(10, 'not a cursor')).rejects.toMatchObject({ code: 'bad_request' });
      await expect(query(10, Buffer.from('-1').toString('base64url'))).rejects.toMatchObject({
        code: 'bad_request',
      });
    });

    it('exports JSON lines equal to the query results, across several batches', async () => {
      for (const filter of [{}, { action: 'auth.*' }, { actorId: 'nobody' }] satisfies AuditQueryFilter[]) {
        const lines: string[] = [];
        for await (const line of f.audit.exportJsonl(f.storage, tenant, filter)) lines.push(line);
        expect(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).toBe(true);
        const exported = lines.map((line) => JSON.parse(line) as AuditEntryView);
        const queried = await f.storage.withTenant(tenant, (tx) =>
          f.audit.query(tx, tenant, filter, { limit: 500, order: 'asc' }),
        );
        expect(exported).toEqual(queried.entries);
      }
      expect(await select({})).toHaveLength(11);
    });
  });

  it('numbers 20 concurrent appending transactions 1..20 in one valid chain', async () => {
    const tenant = await f.newTenant();
    // A fresh tenant: the transactions also race to create the chain head.
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        f.storage.withTenant(tenant, async (tx) => {
          await tx.selectFrom('audit_heads').select('seq').where('tenant_id', '=', tenant).execute();
          return f.audit.append(tx, tenant, sampleEvent(index + 1));
        }),
      ),
    );
    expect(results.map((result) => result.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, index) => index + 1),
    );
    expect(await f.audit.verify(f.storage, tenant)).toEqual({ ok: true, entries: 20, checkpoints: 4 });
  });
});
