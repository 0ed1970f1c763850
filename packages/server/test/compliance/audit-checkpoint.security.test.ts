import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAuditCheckpointJob } from '../../src/compliance/audit/audit-checkpoint-job.ts';
import { entryHash, SYSTEM_TENANT_ID } from '../../src/compliance/audit/audit-entry.ts';
import { AuditLog } from '../../src/compliance/audit/audit-log.ts';
import type { AuditLogTable } from '../../src/storage/tables.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { type AuditFixture, openAuditFixture, sampleEvent } from './audit-fixture.ts';

/**
 * Attack: someone who can write the database edits the newest audit entries, the ones after the last
 * count-based checkpoint, and recomputes their hashes and the head so every link adds up again. With
 * checkpoints only every N entries nothing signed covers that tail. The time-based checkpoint job signs it
 * once its oldest entry is older than the interval; from then on the same rewrite fails verification.
 *
 * Chains here have 7 entries with a count-based checkpoint at seq 5 (checkpointEvery = 5); verification
 * reads 4 entries per transaction.
 */
describeEachDialect('time-based audit checkpoints', (dialect) => {
  let f: AuditFixture;
  const intervalSeconds = 60;
  const jobClock = { now: () => f.clock.time };
  const job = () =>
    createAuditCheckpointJob({ storage: f.storage, audit: f.audit, clock: jobClock, intervalSeconds });

  beforeAll(async () => {
    f = await openAuditFixture(dialect, { checkpointEvery: 5, batchSize: 4 });
  });

  afterAll(async () => {
    await f.test.close();
  });

  const chainOf7 = async () => {
    const tenant = await f.newTenant();
    await f.recordMany(tenant, 7);
    return tenant;
  };
  const checkpointSeqs = async (tenant: string) => (await f.checkpoints(tenant)).map((row) => row.seq);

  /** Edits entries from `fromSeq` on, then recomputes their hashes from the entry before, and the head. */
  const rewriteTail = (tenant: string, fromSeq: number, edit: (row: AuditLogTable) => void) =>
    f.asTenant(tenant, async (tx) => {
      const all = await tx
        .selectFrom('audit_log')
        .selectAll()
        .where('tenant_id', '=', tenant)
        .orderBy('seq')
        .execute();
      let prevHash = all[fromSeq - 2]?.hash ?? '';
      for (const row of all.slice(fromSeq - 1)) {
        edit(row);
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
      await tx
        .updateTable('audit_heads')
        .set({ seq: all.length, hash: prevHash })
        .where('tenant_id', '=', tenant)
        .execute();
    });
  const hideIntruder = (row: AuditLogTable) => {
    row.actor_id = 'someone-innocent';
  };

  it('without the job, a consistent rewrite of the unsigned tail goes unnoticed (the gap it closes)', async () => {
    const tenant = await chainOf7();
    await rewriteTail(tenant, 6, hideIntruder);
    expect(await f.audit.verify(f.storage, tenant)).toEqual({ ok: true, entries: 7, checkpoints: 1 });
  });

  it('attack: once the job signed the tail, the same rewrite fails verification at the signed entry', async () => {
    const tenant = await chainOf7();
    f.clock.time += (intervalSeconds + 1) * 1000;
    const pass = await job().run();
    expect(pass.refused.filter((chain) => chain.tenantId === tenant)).toEqual([]);
    expect(await checkpointSeqs(tenant)).toEqual([5, 7]);
    expect(await f.audit.verify(f.storage, tenant)).toEqual({ ok: true, entries: 7, checkpoints: 2 });

    const seven = (await f.rows(tenant))[6];
    await rewriteTail(tenant, 6, hideIntruder);
    expect(await f.audit.verify(f.storage, tenant)).toEqual({
      ok: false,
      entries: 6,
      firstBad: { seq: 7, id: seven?.id, reason: 'checkpoint hash mismatch' },
    });
  });

  it('signs only once the oldest unsigned entry is older than the interval, and only what is unsigned', async () => {
    const tenant = await chainOf7();
    await job().run();
    expect(await checkpointSeqs(tenant)).toEqual([5]);
    f.clock.time += (intervalSeconds + 1) * 1000;
    await job().run();
    expect(await checkpointSeqs(tenant)).toEqual([5, 7]);
    f.clock.time += (intervalSeconds + 1) * 1000;
    await job().run();
    expect(await checkpointSeqs(tenant)).toEqual([5, 7]);
  });

  it('keeps count-based checkpoints after time-based ones, and still misses a deleted count-based one', async () => {
    const tenant = await chainOf7();
    f.clock.time += (intervalSeconds + 1) * 1000;
    await job().run();
    for (let n = 8; n <= 11; n += 1) await f.record(tenant, sampleEvent(n));
    expect(await checkpointSeqs(tenant)).toEqual([5, 7, 10]);
    expect(await f.audit.verify(f.storage, tenant)).toEqual({ ok: true, entries: 11, checkpoints: 3 });
    await f.asTenant(tenant, (tx) =>
      tx.deleteFrom('audit_checkpoints').where('tenant_id', '=', tenant).where('seq', '=', 10).execute(),
    );
    expect(await f.audit.verify(f.storage, tenant)).toMatchObject({
      ok: false,
      firstBad: { seq: 10, reason: 'checkpoint missing' },
    });
  });

  it('never signs a tail that no longer follows from the last checkpoint, and names the first bad entry', async () => {
    const tenant = await chainOf7();
    const six = (await f.rows(tenant))[5];
    await f.asTenant(tenant, (tx) =>
      tx
        .updateTable('audit_log')
        .set({ action: 'message.read' })
        .where('id', '=', six?.id ?? '')
        .execute(),
    );
    f.clock.time += (intervalSeconds + 1) * 1000;
    const pass = await job().run();
    expect(pass.refused.filter((chain) => chain.tenantId === tenant)).toEqual([
      { tenantId: tenant, firstBad: { seq: 6, id: six?.id, reason: 'hash mismatch' } },
    ]);
    expect(await checkpointSeqs(tenant)).toEqual([5]);
  });

  it('attack: a forged checkpoint does not get a rewritten tail signed for real', async () => {
    // The intruder rewrites entries 6 and 7 and adds a checkpoint at 6 with a signature copied from another
    // checkpoint. Trusting it, the job would sign 7 genuinely; deleting the forgery afterwards would leave a
    // chain that verifies. The job checks the checkpoint it starts from and refuses.
    const tenant = await chainOf7();
    await rewriteTail(tenant, 6, hideIntruder);
    const [genuine] = await f.checkpoints(tenant);
    const six = (await f.rows(tenant))[5];
    await f.asTenant(tenant, (tx) =>
      tx
        .insertInto('audit_checkpoints')
        .values({
          ...(genuine ?? { key_id: '', signed_at: 0, signature: '' }),
          tenant_id: tenant,
          seq: 6,
          hash: six?.hash ?? '',
        })
        .execute(),
    );
    f.clock.time += (intervalSeconds + 1) * 1000;
    const pass = await job().run();
    expect(pass.refused.filter((chain) => chain.tenantId === tenant)).toEqual([
      { tenantId: tenant, firstBad: { seq: 6, id: six?.id, reason: 'checkpoint signature invalid' } },
    ]);
    expect(await checkpointSeqs(tenant)).toEqual([5, 6]);
  });

  it('attack: one chain that makes the pass fail does not leave the other tenants’ tails unsigned', async () => {
    // Someone who can write the database makes one chain fail every pass (a row that cannot be hashed, a
    // lock held on its head), hoping the job stops there and every other tenant's tail stays rewritable.
    const broken = await chainOf7();
    const tenant = await chainOf7();
    class FailingFor extends AuditLog {
      override checkpointTail(...args: Parameters<AuditLog['checkpointTail']>) {
        // Every chain but `tenant` and the system chain fails, so it fails whatever order tenants come in.
        const [, tenantId] = args;
        if (tenantId !== tenant && tenantId !== SYSTEM_TENANT_ID)
          return Promise.reject(new Error(`chain ${tenantId} cannot be read`));
        return super.checkpointTail(...args);
      }
    }
    const audit = new FailingFor({
      fieldCipher: f.test.security.fieldCipher,
      signingKeys: f.test.security.signingKeys,
      clock: jobClock,
      dialect,
      checkpointEvery: 5,
      batchSize: 4,
    });
    f.clock.time += (intervalSeconds + 1) * 1000;
    const pass = await createAuditCheckpointJob({
      storage: f.storage,
      audit,
      clock: jobClock,
      intervalSeconds,
    }).run();
    expect(pass.failed.map((chain) => chain.tenantId)).toContain(broken);
    expect(await checkpointSeqs(broken)).toEqual([5]);
    expect(await checkpointSeqs(tenant)).toEqual([5, 7]);
  });

  it('on several nodes at once, with appends going on, each tail is signed once and the chain stays valid', async () => {
    const tenant = await chainOf7();
    f.clock.time += (intervalSeconds + 1) * 1000;
    const otherNode = new AuditLog({
      fieldCipher: f.test.security.fieldCipher,
      signingKeys: f.test.security.signingKeys,
      clock: jobClock,
      dialect,
      checkpointEvery: 5,
      batchSize: 4,
    });
    const nodes = [f.audit, otherNode, f.audit, otherNode].map((audit) =>
      createAuditCheckpointJob({ storage: f.storage, audit, clock: jobClock, intervalSeconds }),
    );
    const [passes] = await Promise.all([
      Promise.all(nodes.map((node) => node.run())),
      f.record(tenant, sampleEvent(8)),
    ]);
    for (const pass of passes) expect(pass.refused.filter((chain) => chain.tenantId === tenant)).toEqual([]);
    const seqs = await checkpointSeqs(tenant);
    // The tail was signed once: at 7 if the passes came first, at 8 if the append did.
    expect(seqs.length).toBe(2);
    expect([
      [5, 7],
      [5, 8],
    ]).toContainEqual(seqs);
    expect(await f.audit.verify(f.storage, tenant)).toEqual({ ok: true, entries: 8, checkpoints: 2 });
  });
});
