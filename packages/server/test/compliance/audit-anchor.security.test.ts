import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditAnchorFile } from '../../src/compliance/audit/audit-anchor-file.ts';
import { createAuditCheckpointJob } from '../../src/compliance/audit/audit-checkpoint-job.ts';
import { checkpointPayload, entryHash } from '../../src/compliance/audit/audit-entry.ts';
import { newId } from '../../src/ids.ts';
import type { AuditVerification } from '../../src/compliance/audit/audit-log.ts';
import { createTenantService } from '../../src/tenancy/tenant-service.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { type AuditFixture, openAuditFixture } from './audit-fixture.ts';

/**
 * Attack: someone who can write the database makes a chain say less than it did. They cut its newest
 * entries together with their checkpoints and move the head back (every remaining link and signature is
 * genuine); they roll a chain back and write a different history from there; they delete a tenant's whole
 * chain, or the tenant with it; or they rewrite a young chain from its first entry, before any count-based
 * checkpoint exists. The database alone cannot tell any of this from a chain that was always shorter. The
 * anchor file, outside the database, pins each chain's signed heads; verification compares the chain with
 * it. Then the attacker turns to the anchor file itself: edits a line, cuts its tail, deletes it, or adds a
 * line signed with a key pair they registered in `signing_keys`.
 *
 * Chains here checkpoint every 5 entries; verification reads 4 entries per transaction.
 */
describeEachDialect('audit anchors outside the database', (dialect) => {
  let f: AuditFixture;

  beforeAll(async () => {
    f = await openAuditFixture(dialect, { checkpointEvery: 5, batchSize: 4 });
  });

  afterAll(async () => {
    await f.test.close();
  });

  const tenants = () =>
    createTenantService({
      storage: f.storage,
      clock: { now: () => f.clock.time },
      audit: f.audit,
      setupTokenTtlSeconds: 60,
    });

  /** A tenant created as the service does (chain started and anchored at once), with `more` entries. */
  const anchoredTenant = async (more: number) => {
    const { tenantId } = await tenants().createTenant('Anchored');
    await f.recordMany(tenantId, more);
    return tenantId;
  };

  /** As `parley audit verify` does: the anchor file, then the chain against its anchors. */
  const verify = async (tenantId: string): Promise<AuditVerification> => {
    const { contents, finding } = await f.anchors.read(f.storage);
    expect(finding).toBeUndefined();
    return f.audit.verify(f.storage, tenantId, { anchored: contents.anchors.get(tenantId), mustExist: true });
  };

  const pass = () =>
    createAuditCheckpointJob({
      storage: f.storage,
      audit: f.audit,
      clock: { now: () => f.clock.time },
      intervalSeconds: 60,
    }).run();

  /** Deletes entries and checkpoints after `seq` and points the head at entry `seq`. */
  const cutBackTo = (tenantId: string, seq: number) =>
    f.asTenant(tenantId, async (tx) => {
      await tx
        .deleteFrom('audit_checkpoints')
        .where('tenant_id', '=', tenantId)
        .where('seq', '>', seq)
        .execute();
      await tx.deleteFrom('audit_log').where('tenant_id', '=', tenantId).where('seq', '>', seq).execute();
      const last = await tx
        .selectFrom('audit_log')
        .select('hash')
        .where('tenant_id', '=', tenantId)
        .where('seq', '=', seq)
        .executeTakeFirstOrThrow();
      await tx
        .updateTable('audit_heads')
        .set({ seq, hash: last.hash })
        .where('tenant_id', '=', tenantId)
        .execute();
    });

  /** Edits every entry from `fromSeq` on, recomputes the hashes and the head, and drops their checkpoints. */
  const rewriteFrom = (tenantId: string, fromSeq: number) =>
    f.asTenant(tenantId, async (tx) => {
      const rows = await tx
        .selectFrom('audit_log')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .orderBy('seq')
        .execute();
      await tx
        .deleteFrom('audit_checkpoints')
        .where('tenant_id', '=', tenantId)
        .where('seq', '>=', fromSeq)
        .execute();
      let prev = rows[fromSeq - 2]?.hash ?? '0'.repeat(64);
      for (const row of rows.slice(fromSeq - 1)) {
        row.action = 'message.read';
        row.prev_hash = prev;
        row.hash = entryHash(row);
        prev = row.hash;
        await tx
          .updateTable('audit_log')
          .set(row)
          .where('tenant_id', '=', tenantId)
          .where('id', '=', row.id)
          .execute();
      }
      const last = rows.at(-1);
      if (last)
        await tx
          .updateTable('audit_heads')
          .set({ seq: last.seq, hash: last.hash })
          .where('tenant_id', '=', tenantId)
          .execute();
    });

  it('a clean chain verifies against its anchors, after checkpoint passes anchored it', async () => {
    const tenant = await anchoredTenant(11); // 12 entries: count-based checkpoints at 5 and 10
    f.clock.time += 120_000;
    const result = await pass();
    expect(result.failed).toEqual([]);
    expect(result.anchored).toBeGreaterThanOrEqual(1);
    const { contents } = await f.anchors.read(f.storage);
    expect([...(contents.anchors.get(tenant)?.keys() ?? [])]).toEqual([1, 12]);
    expect(await verify(tenant)).toMatchObject({ ok: true, entries: 12 });
  });

  it('reports a tail cut with its checkpoints and the head moved back (truncation)', async () => {
    const tenant = await anchoredTenant(11);
    f.clock.time += 120_000;
    await pass(); // anchors seq 12
    await cutBackTo(tenant, 7);
    // The database alone cannot tell: every remaining link and checkpoint is genuine.
    expect(await f.audit.verify(f.storage, tenant)).toMatchObject({ ok: true, entries: 7 });
    expect(await verify(tenant)).toEqual({
      ok: false,
      entries: 7,
      firstBad: { seq: 8, reason: 'anchored entry missing' },
    });
  });

  it('reports a chain rolled back and rewritten past an anchor (rollback)', async () => {
    const tenant = await anchoredTenant(11);
    f.clock.time += 120_000;
    await pass(); // anchors seq 12
    await rewriteFrom(tenant, 11);
    expect(await f.audit.verify(f.storage, tenant)).toMatchObject({ ok: true });
    expect(await verify(tenant)).toEqual({
      ok: false,
      entries: 11,
      firstBad: { seq: 12, id: expect.any(String), reason: 'anchored hash mismatch' },
    });
  });

  it('reports a young chain rewritten from its first entry, before any count-based checkpoint', async () => {
    const tenant = await anchoredTenant(3); // 4 entries, no count-based checkpoint; seq 1 anchored at creation
    await rewriteFrom(tenant, 1);
    expect(await f.audit.verify(f.storage, tenant)).toMatchObject({ ok: true, entries: 4 });
    expect(await verify(tenant)).toEqual({
      ok: false,
      entries: 0,
      firstBad: { seq: 1, id: expect.any(String), reason: 'anchored hash mismatch' },
    });
  });

  it('reports a tenant whose whole chain was deleted, and one deleted with its chain', async () => {
    const tenant = await anchoredTenant(6);
    await f.asTenant(tenant, async (tx) => {
      await tx.deleteFrom('audit_checkpoints').where('tenant_id', '=', tenant).execute();
      await tx.deleteFrom('audit_log').where('tenant_id', '=', tenant).execute();
      await tx.deleteFrom('audit_heads').where('tenant_id', '=', tenant).execute();
    });
    expect(await f.audit.verify(f.storage, tenant)).toEqual({ ok: true, entries: 0, checkpoints: 0 });
    expect(await verify(tenant)).toEqual({
      ok: false,
      entries: 0,
      firstBad: { seq: 1, reason: 'chain missing' },
    });
    // Gone from `tenants` too: only the anchor file still knows it existed.
    await f.storage.withSystem(async (tx) => {
      await tx.deleteFrom('tenant_setup_tokens').where('tenant_id', '=', tenant).execute();
      await tx.deleteFrom('tenants').where('id', '=', tenant).execute();
    });
    const { contents } = await f.anchors.read(f.storage);
    expect(contents.anchors.has(tenant)).toBe(true);
    const anchoredOnly = await f.audit.verify(f.storage, tenant, { anchored: contents.anchors.get(tenant) });
    expect(anchoredOnly).toEqual({ ok: false, entries: 0, firstBad: { seq: 1, reason: 'chain missing' } });
  });

  it('detects an edited, reordered, cut, deleted or forged anchor file', async () => {
    await anchoredTenant(2);
    await anchoredTenant(2);
    const original = readFileSync(f.anchorFile, 'utf8');
    const lines = original.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(4);
    const findingAfter = async (text: string | undefined) => {
      if (text === undefined) rmSync(f.anchorFile);
      else writeFileSync(f.anchorFile, text);
      try {
        return (await f.anchors.read(f.storage)).finding;
      } finally {
        writeFileSync(f.anchorFile, original);
      }
    };
    const edited = lines.map((line, index) => (index === 1 ? line.replace(/"seq":\d+/, '"seq":0') : line));
    expect(await findingAfter(`${edited.join('\n')}\n`)).toEqual({
      line: 2,
      reason: 'line signature invalid',
    });
    const withoutSecond = lines.filter((_, index) => index !== 1);
    expect(await findingAfter(`${withoutSecond.join('\n')}\n`)).toEqual({
      line: 2,
      reason: 'line out of order',
    });
    const cut = lines.slice(0, 2);
    expect(await findingAfter(`${cut.join('\n')}\n`)).toEqual({ line: 3, reason: 'anchor file truncated' });
    expect(await findingAfter(undefined)).toEqual({ line: 0, reason: 'anchor file replaced' });
    expect((await f.anchors.read(f.storage)).finding).toBeUndefined();
  });

  /**
   * Attack: someone who can write the data dir but not the database deletes the anchor file. The next
   * anchor (any new checkpoint, a new tenant, a restart) starts a new file with a new id; its mark must not
   * make the old file's marks count for nothing, or the deletion, and every anchor it took, is forgotten.
   */
  it('reports an anchor file deleted even after a new one was started in its place', async () => {
    await anchoredTenant(2);
    const original = readFileSync(f.anchorFile, 'utf8');
    rmSync(f.anchorFile);
    try {
      await anchoredTenant(1);
      expect(readFileSync(f.anchorFile, 'utf8')).not.toBe(original);
      expect((await f.anchors.read(f.storage)).finding).toEqual({ line: 0, reason: 'anchor file replaced' });
    } finally {
      writeFileSync(f.anchorFile, original);
      // Forget the replacement's mark, so the later tests see the original file as the only one.
      const { fileId } = JSON.parse(original.split('\n')[0] ?? '') as { fileId: string };
      await f.storage.withSystem((tx) =>
        tx
          .deleteFrom('parley_meta')
          .where('key', 'like', 'audit_anchor_mark:%')
          .where('key', '!=', `audit_anchor_mark:${fileId}`)
          .execute(),
      );
    }
  });

  /**
   * Attack: public keys sit in the database, so a database writer registers a key pair of their own in
   * `signing_keys` (they cannot seal its private key under the master key) and signs with it: a checkpoint
   * for a chain they rewrote, and an anchor line appended to the file.
   */
  describe('a key pair the attacker registered in the database', () => {
    const attackerKey = async () => {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const id = newId();
      await f.storage.withSystem((tx) =>
        tx
          .insertInto('signing_keys')
          .values({
            id,
            public_key: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
            wrapped_private_key: Buffer.alloc(60).toString('base64'),
            master_version: 1,
            created_at: 1,
            retired_at: 1,
          })
          .execute(),
      );
      return {
        currentKeyId: id,
        sign: (data: Buffer) => ({ keyId: id, signature: sign(null, data, privateKey).toString('base64') }),
      };
    };

    it('signs no checkpoint that verifies', async () => {
      const tenant = await f.newTenant();
      await f.recordMany(tenant, 7); // count-based checkpoint at 5
      await rewriteFrom(tenant, 1);
      const forger = await attackerKey();
      const [fifth] = (await f.rows(tenant)).filter((row) => row.seq === 5);
      const checkpoint = { tenant_id: tenant, seq: 5, hash: fifth?.hash ?? '', signed_at: f.clock.time };
      const { signature } = forger.sign(checkpointPayload(checkpoint));
      await f.asTenant(tenant, (tx) =>
        tx
          .insertInto('audit_checkpoints')
          .values({ ...checkpoint, key_id: forger.currentKeyId, signature })
          .execute(),
      );
      expect(await f.audit.verify(f.storage, tenant)).toEqual({
        ok: false,
        entries: 4,
        firstBad: { seq: 5, id: expect.any(String), reason: 'checkpoint signature invalid' },
      });
    });

    it('signs no anchor line that verifies', async () => {
      await anchoredTenant(1);
      const before = readFileSync(f.anchorFile, 'utf8');
      const forger = await attackerKey();
      const forged = new AuditAnchorFile(f.anchorFile, { ...forger, verify: () => Promise.resolve(true) });
      forged.append([{ tenantId: newId(), seq: 1, hash: '1'.repeat(64) }], f.clock.time);
      try {
        const lines = before.trimEnd().split('\n').length;
        expect((await f.anchors.read(f.storage)).finding).toEqual({
          line: lines + 1,
          reason: 'line signature invalid',
        });
      } finally {
        writeFileSync(f.anchorFile, before);
      }
    });
  });
});
