import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkpointPayload, entryHash, GENESIS_HASH } from '../../src/compliance/audit/audit-entry.ts';
import { newId } from '../../src/ids.ts';
import type { TenantTx } from '../../src/storage/database.ts';
import type { AuditLogTable } from '../../src/storage/tables.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { type AuditFixture, openAuditFixture } from './audit-fixture.ts';

/**
 * Attack: someone who can write the database (a stolen database credential, an injected query running as
 * the server's role, a careless operator) edits, deletes, inserts or reorders audit entries to hide what
 * happened, or rewrites the whole chain and its head so every hash adds up again. Verification must name
 * the first entry that is not what was recorded. Only the signed checkpoints resist a full rewrite: their
 * key is sealed by the master key, which is not in the database.
 *
 * Every chain here has 7 entries with a signed checkpoint at seq 5 (checkpointEvery = 5), and verification
 * reads 4 entries per transaction, so findings also land in a later batch.
 */
describeEachDialect('audit log tampering', (dialect) => {
  let f: AuditFixture;
  let tenant: string;
  let rows: AuditLogTable[];

  beforeAll(async () => {
    f = await openAuditFixture(dialect, { checkpointEvery: 5, batchSize: 4 });
  });

  afterAll(async () => {
    await f.test.close();
  });

  /** A fresh intact chain of 7 entries for each test. */
  const freshChain = async () => {
    tenant = await f.newTenant();
    await f.recordMany(tenant, 7);
    rows = await f.rows(tenant);
    expect(await f.audit.verify(f.storage, tenant)).toEqual({ ok: true, entries: 7, checkpoints: 1 });
  };
  const entry = (seq: number): AuditLogTable => {
    const row = rows[seq - 1];
    if (!row) throw new Error(`no entry ${seq}`);
    return row;
  };
  const verify = () => f.audit.verify(f.storage, tenant);
  const tamper = (work: (tx: TenantTx) => Promise<unknown>) => f.asTenant(tenant, work);
  const setSeq = (tx: TenantTx, id: string, seq: number) =>
    tx.updateTable('audit_log').set({ seq }).where('tenant_id', '=', tenant).where('id', '=', id).execute();
  const setHead = (tx: TenantTx, seq: number, hash: string) =>
    tx.updateTable('audit_heads').set({ seq, hash }).where('tenant_id', '=', tenant).execute();
  /** A forged entry whose own hash is correct for what it claims. */
  const forge = (seq: number, prevHash: string): AuditLogTable => {
    const row = {
      ...entry(1),
      id: newId(),
      seq,
      action: 'auth.login',
      actor_id: 'intruder',
      prev_hash: prevHash,
    };
    return { ...row, hash: entryHash(row) };
  };
  /** What an attacker without the master key can do best: edit, then recompute every hash and the head. */
  const rewriteChain = (edit: (rows: AuditLogTable[]) => void) =>
    tamper(async (tx) => {
      const all = await tx
        .selectFrom('audit_log')
        .selectAll()
        .where('tenant_id', '=', tenant)
        .orderBy('seq')
        .execute();
      edit(all);
      let prevHash = GENESIS_HASH;
      for (const row of all) {
        row.prev_hash = prevHash;
        row.hash = entryHash(row);
        prevHash = row.hash;
        await tx
          .updateTable('audit_log')
          .set(row)
          .where('tenant_id', '=', tenant)
          .where('id', '=', row.id)
          .execute();
      }
      await setHead(tx, all.length, prevHash);
    });

  it('an edited action is a hash mismatch at that entry', async () => {
    await freshChain();
    await tamper((tx) =>
      tx.updateTable('audit_log').set({ action: 'message.read' }).where('id', '=', entry(3).id).execute(),
    );
    expect(await verify()).toEqual({
      ok: false,
      entries: 2,
      firstBad: { seq: 3, id: entry(3).id, reason: 'hash mismatch' },
    });
  });

  it('a sealed ip swapped in from another entry is a hash mismatch', async () => {
    await freshChain();
    await tamper((tx) =>
      tx
        .updateTable('audit_log')
        .set({ ip: entry(2).ip })
        .where('id', '=', entry(6).id)
        .execute(),
    );
    expect(await verify()).toMatchObject({ ok: false, firstBad: { seq: 6, reason: 'hash mismatch' } });
  });

  it('a deleted middle entry is a sequence gap at the next entry', async () => {
    await freshChain();
    await tamper((tx) => tx.deleteFrom('audit_log').where('id', '=', entry(3).id).execute());
    expect(await verify()).toEqual({
      ok: false,
      entries: 2,
      firstBad: { seq: 4, id: entry(4).id, reason: 'sequence gap' },
    });
  });

  it('a deleted first entry is a sequence gap at seq 2', async () => {
    await freshChain();
    await tamper((tx) => tx.deleteFrom('audit_log').where('id', '=', entry(1).id).execute());
    expect(await verify()).toMatchObject({
      ok: false,
      entries: 0,
      firstBad: { seq: 2, reason: 'sequence gap' },
    });
  });

  it('a deleted last entry leaves the head pointing past the chain', async () => {
    await freshChain();
    await tamper((tx) => tx.deleteFrom('audit_log').where('id', '=', entry(7).id).execute());
    expect(await verify()).toEqual({
      ok: false,
      entries: 6,
      firstBad: { seq: 7, reason: 'head does not match last entry' },
    });
  });

  it('a tail cut back across a checkpoint, head moved along, leaves that checkpoint without its entry', async () => {
    await freshChain();
    await tamper(async (tx) => {
      await tx.deleteFrom('audit_log').where('tenant_id', '=', tenant).where('seq', '>=', 5).execute();
      await setHead(tx, 4, entry(4).hash);
    });
    expect(await verify()).toEqual({
      ok: false,
      entries: 4,
      firstBad: { seq: 5, reason: 'checkpoint without entry' },
    });
  });

  it('a forged entry inserted mid-chain, later entries renumbered, breaks the link after it', async () => {
    await freshChain();
    await tamper(async (tx) => {
      for (let seq = 7; seq >= 4; seq -= 1) await setSeq(tx, entry(seq).id, seq + 1);
      await tx
        .insertInto('audit_log')
        .values(forge(4, entry(3).hash))
        .execute();
      await setHead(tx, 8, entry(7).hash);
    });
    expect(await verify()).toEqual({
      ok: false,
      entries: 4,
      firstBad: { seq: 5, id: entry(4).id, reason: 'previous hash mismatch' },
    });
  });

  it('a forged entry appended with a correct hash but the wrong link is a previous hash mismatch', async () => {
    await freshChain();
    const forged = forge(8, entry(6).hash);
    await tamper(async (tx) => {
      await tx.insertInto('audit_log').values(forged).execute();
      await setHead(tx, 8, forged.hash);
    });
    expect(await verify()).toEqual({
      ok: false,
      entries: 7,
      firstBad: { seq: 8, id: forged.id, reason: 'previous hash mismatch' },
    });
  });

  it('a correctly linked forged entry past the head is caught by the head', async () => {
    await freshChain();
    await tamper((tx) =>
      tx
        .insertInto('audit_log')
        .values(forge(8, entry(7).hash))
        .execute(),
    );
    expect(await verify()).toEqual({
      ok: false,
      entries: 8,
      firstBad: { seq: 8, reason: 'head does not match last entry' },
    });
  });

  it('two swapped entries are caught at the first swapped seq', async () => {
    await freshChain();
    await tamper(async (tx) => {
      await setSeq(tx, entry(3).id, -3);
      await setSeq(tx, entry(4).id, 3);
      await setSeq(tx, entry(3).id, 4);
    });
    expect(await verify()).toEqual({
      ok: false,
      entries: 2,
      firstBad: { seq: 3, id: entry(4).id, reason: 'previous hash mismatch' },
    });
  });

  it('a chain rewritten after an edit, every hash and the head recomputed, fails at the signed checkpoint', async () => {
    await freshChain();
    await rewriteChain((all) => {
      if (all[1]) all[1].action = 'message.read';
    });
    expect(await verify()).toEqual({
      ok: false,
      entries: 4,
      firstBad: { seq: 5, id: entry(5).id, reason: 'checkpoint hash mismatch' },
    });
  });

  it('a rewritten chain with the checkpoint hash rewritten too fails the checkpoint signature', async () => {
    await freshChain();
    await rewriteChain((all) => {
      if (all[1]) all[1].actor_id = 'someone-else';
    });
    const [rewritten] = (await f.rows(tenant)).filter((row) => row.seq === 5);
    await tamper((tx) =>
      tx
        .updateTable('audit_checkpoints')
        .set({ hash: rewritten?.hash })
        .where('tenant_id', '=', tenant)
        .execute(),
    );
    expect(await verify()).toEqual({
      ok: false,
      entries: 4,
      firstBad: { seq: 5, id: entry(5).id, reason: 'checkpoint signature invalid' },
    });
  });

  it('a checkpoint signed with a key other than the server’s is invalid, whatever key id it names', async () => {
    await freshChain();
    const [checkpoint] = await f.checkpoints(tenant);
    if (!checkpoint) throw new Error('no checkpoint');
    const attackerKey = generateKeyPairSync('ed25519').privateKey;
    const signature = sign(null, checkpointPayload(checkpoint), attackerKey).toString('base64');
    await tamper((tx) =>
      tx.updateTable('audit_checkpoints').set({ signature }).where('tenant_id', '=', tenant).execute(),
    );
    expect(await verify()).toMatchObject({
      ok: false,
      firstBad: { seq: 5, reason: 'checkpoint signature invalid' },
    });
    await tamper((tx) =>
      tx.updateTable('audit_checkpoints').set({ key_id: newId() }).where('tenant_id', '=', tenant).execute(),
    );
    expect(await verify()).toMatchObject({
      ok: false,
      firstBad: { seq: 5, reason: 'checkpoint signature invalid' },
    });
  });

  it('a deleted checkpoint is reported missing', async () => {
    await freshChain();
    await tamper((tx) => tx.deleteFrom('audit_checkpoints').where('tenant_id', '=', tenant).execute());
    expect(await verify()).toEqual({
      ok: false,
      entries: 4,
      firstBad: { seq: 5, id: entry(5).id, reason: 'checkpoint missing' },
    });
  });

  it('a checkpoint copied onto another entry fails its signature', async () => {
    await freshChain();
    const [checkpoint] = await f.checkpoints(tenant);
    if (!checkpoint) throw new Error('no checkpoint');
    await tamper((tx) =>
      tx
        .insertInto('audit_checkpoints')
        .values({ ...checkpoint, seq: 7, hash: entry(7).hash })
        .execute(),
    );
    expect(await verify()).toMatchObject({
      ok: false,
      firstBad: { seq: 7, reason: 'checkpoint signature invalid' },
    });
  });
});

/**
 * Attack: SQL injection running as the server's own database role tries to rewrite or delete history. On
 * PostgreSQL that role may only append to the audit log.
 */
describeEachDialect('audit log privileges', (dialect) => {
  let f: AuditFixture;

  beforeAll(async () => {
    f = await openAuditFixture(dialect, { checkpointEvery: 100, batchSize: 500 });
  });

  afterAll(async () => {
    await f.test.close();
  });

  it.runIf(dialect === 'postgres')(
    'the application role cannot update or delete audit entries or checkpoints',
    async () => {
      const tenant = await f.newTenant();
      await f.recordMany(tenant, 3);
      const asApp = (work: (tx: TenantTx) => Promise<unknown>) => f.storage.withTenant(tenant, work);
      await expect(
        asApp((tx) => tx.updateTable('audit_log').set({ action: 'x.y' }).execute()),
      ).rejects.toThrow(/permission denied/);
      await expect(asApp((tx) => tx.deleteFrom('audit_log').execute())).rejects.toThrow(/permission denied/);
      await expect(asApp((tx) => tx.deleteFrom('audit_checkpoints').execute())).rejects.toThrow(
        /permission denied/,
      );
      expect(await f.audit.verify(f.storage, tenant)).toMatchObject({ ok: true, entries: 3 });
    },
  );
});
