import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditPruner } from '../../src/compliance/audit/audit-pruner.ts';
import { createAuditRetention } from '../../src/compliance/audit/audit-retention-task.ts';
import { PRUNED_ACTION } from '../../src/compliance/audit/audit-entry.ts';
import type { Storage } from '../../src/storage/database.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { type AuditFixture, openAuditFixture } from './audit-fixture.ts';

/**
 * Audit retention removes a chain's oldest entries in whole signed segments and leaves a signed "pruned up
 * to" record, so the rest still verifies and the gap is explained. Attacks: someone who can write the
 * database removes entries without such a record, forges one (made up, moved to a later checkpoint, a
 * checkpoint's signature reused, copied from another tenant), or deletes the record: `verify` fails each
 * time. Pruning never removes an entry younger than the cut-off, never prunes a segment that does not
 * verify, and is idempotent and resumable.
 *
 * Chains have a count-based checkpoint every 5 entries; verification and deletion go 3 or 4 rows a batch.
 */
describeEachDialect('audit log retention', (dialect) => {
  let f: AuditFixture;
  const DAY = 86_400_000;
  const pruner = (storage: Storage = f.storage) =>
    createAuditPruner({
      storage,
      audit: f.audit,
      signingKeys: f.test.security.signingKeys,
      clock: { now: () => f.clock.time },
      checkpointEvery: 5,
      batchSize: 3,
    });

  beforeAll(async () => {
    f = await openAuditFixture(dialect, { checkpointEvery: 5, batchSize: 4 });
  });

  afterAll(async () => {
    await f.test.close();
  });

  /** `old` entries, then a day later `young` ones; answers the cut-off between them. */
  const chain = async (old: number, young: number) => {
    const tenant = await f.newTenant();
    await f.recordMany(tenant, old);
    f.clock.time += DAY;
    const cutOff = f.clock.time;
    await f.recordMany(tenant, young);
    return { tenant, cutOff };
  };
  const seqs = async (tenant: string) => (await f.rows(tenant)).map((row) => row.seq);
  const prunes = (tenant: string) =>
    f.asTenant(tenant, (tx) =>
      tx.selectFrom('audit_prunes').selectAll().where('tenant_id', '=', tenant).orderBy('seq').execute(),
    );

  it('removes the old entries up to the last checkpoint before the cut-off; the rest verifies and the gap is explained', async () => {
    const { tenant, cutOff } = await chain(12, 3);
    const outcome = await pruner().prune(tenant, { olderThan: cutOff });
    expect(outcome).toEqual({ status: 'pruned', throughSeq: 10, removed: 10 });
    // 11 and 12 are old but after the last whole signed segment: they stay, with the young ones.
    expect(await seqs(tenant)).toEqual([11, 12, 13, 14, 15, 16]);
    const [explained] = (await f.rows(tenant)).slice(-1);
    expect(explained?.action).toBe(PRUNED_ACTION);
    expect(JSON.parse(explained?.details ?? '{}')).toMatchObject({ throughSeq: 10, entries: 10 });
    const verification = await f.audit.verify(f.storage, tenant, { mustExist: true });
    expect(verification).toMatchObject({ ok: true, entries: 6, prunedThrough: { seq: 10 } });
    expect(await prunes(tenant)).toHaveLength(1);
  });

  it('never removes an entry at or after the cut-off, nor any entry after it', async () => {
    const tenant = await f.newTenant();
    await f.recordMany(tenant, 7);
    const cutOff = f.clock.time + 1;
    await f.recordMany(tenant, 6);
    // The checkpoint at 10 covers young entries 8 to 10: only the segment up to 5 may go.
    expect(await pruner().prune(tenant, { olderThan: cutOff })).toMatchObject({ throughSeq: 5 });
    const rows = await f.rows(tenant);
    expect(rows[0]?.seq).toBe(6);
    // Every entry at or after the cut-off is still there.
    expect(rows.filter((row) => row.occurred_at >= cutOff)).toHaveLength(6 + 1);
    // A cut-off before every entry prunes nothing.
    const untouched = await f.newTenant();
    await f.recordMany(untouched, 10);
    expect(await pruner().prune(untouched, { olderThan: 0 })).toEqual({ status: 'nothing_due', removed: 0 });
    expect(await seqs(untouched)).toHaveLength(10);
  });

  it('refuses a cut-off that would remove entries younger than the audit minimum', async () => {
    const { tenant } = await chain(10, 0);
    await expect(
      pruner().prune(tenant, { olderThan: f.clock.time - 10 * DAY, minimumDays: 365 }),
    ).rejects.toThrow(RangeError);
    expect(await seqs(tenant)).toHaveLength(10);
  });

  it('is idempotent: the same cut-off again removes nothing and records nothing', async () => {
    const { tenant, cutOff } = await chain(10, 2);
    await pruner().prune(tenant, { olderThan: cutOff });
    const after = await seqs(tenant);
    expect(await pruner().prune(tenant, { olderThan: cutOff })).toEqual({
      status: 'nothing_due',
      removed: 0,
    });
    expect(await seqs(tenant)).toEqual(after);
    expect(await prunes(tenant)).toHaveLength(1);
  });

  it('resumes an interrupted pruning: the chain verifies half way, and the next run finishes the deletion', async () => {
    const { tenant, cutOff } = await chain(10, 2);
    // The node dies after the record and one deletion batch (its third maintenance transaction fails).
    let maintenance = 0;
    const crashing: Storage = {
      ...f.storage,
      withSystem: (work) => {
        maintenance += 1;
        if (maintenance > 2) throw new Error('node died');
        return f.storage.withSystem(work);
      },
    };
    await expect(pruner(crashing).prune(tenant, { olderThan: cutOff })).rejects.toThrow('node died');
    expect((await seqs(tenant))[0]).toBe(4);
    expect(await f.audit.verify(f.storage, tenant)).toMatchObject({ ok: true, prunedThrough: { seq: 10 } });
    expect(await pruner().prune(tenant, { olderThan: cutOff })).toEqual({
      status: 'nothing_due',
      removed: 7,
    });
    expect(await seqs(tenant)).toEqual([11, 12, 13]);
    expect(await prunes(tenant)).toHaveLength(1);
    expect(await f.audit.verify(f.storage, tenant)).toMatchObject({ ok: true, entries: 3 });
  });

  it('the time-based checkpoint still signs a pruned chain, and it verifies', async () => {
    const { tenant, cutOff } = await chain(10, 0);
    await pruner().prune(tenant, { olderThan: cutOff });
    expect(await f.audit.checkpointTail(f.storage, tenant, Number.POSITIVE_INFINITY)).toEqual({
      status: 'signed',
      seq: 11,
    });
    expect(await f.audit.verify(f.storage, tenant, { mustExist: true })).toMatchObject({ ok: true });
  });

  it('refuses to prune a segment that does not verify: tampering is never deleted away', async () => {
    const { tenant, cutOff } = await chain(10, 1);
    await f.asTenant(tenant, (tx) =>
      tx
        .updateTable('audit_log')
        .set({ actor_id: 'someone-innocent' })
        .where('tenant_id', '=', tenant)
        .where('seq', '=', 3)
        .execute(),
    );
    const outcome = await pruner().prune(tenant, { olderThan: cutOff });
    expect(outcome).toMatchObject({ status: 'refused', firstBad: { seq: 3, reason: 'hash mismatch' } });
    expect(await seqs(tenant)).toHaveLength(11);
    expect(await prunes(tenant)).toHaveLength(0);
  });

  describe('attacks on the gap', () => {
    const deleteUpTo = (tenant: string, seq: number) =>
      f.asTenant(tenant, async (tx) => {
        await tx.deleteFrom('audit_log').where('tenant_id', '=', tenant).where('seq', '<=', seq).execute();
        await tx
          .deleteFrom('audit_checkpoints')
          .where('tenant_id', '=', tenant)
          .where('seq', '<=', seq)
          .execute();
      });

    it('attack: entries removed from the start without a signed record fail with a sequence gap', async () => {
      const { tenant } = await chain(12, 0);
      await deleteUpTo(tenant, 10);
      expect(await f.audit.verify(f.storage, tenant)).toMatchObject({
        ok: false,
        firstBad: { seq: 11, reason: 'sequence gap' },
      });
    });

    it('attack: entries removed in the middle of a pruned chain fail with a sequence gap', async () => {
      const { tenant, cutOff } = await chain(10, 6);
      await pruner().prune(tenant, { olderThan: cutOff });
      await f.asTenant(tenant, (tx) =>
        tx.deleteFrom('audit_log').where('tenant_id', '=', tenant).where('seq', 'in', [12, 13]).execute(),
      );
      expect(await f.audit.verify(f.storage, tenant)).toMatchObject({
        ok: false,
        firstBad: { seq: 14, reason: 'sequence gap' },
      });
    });

    it('attack: a made-up record for deleted entries fails its signature', async () => {
      const { tenant } = await chain(12, 0);
      const [checkpoint] = (await f.checkpoints(tenant)).filter((row) => row.seq === 10);
      await deleteUpTo(tenant, 10);
      await f.asTenant(tenant, (tx) =>
        tx
          .insertInto('audit_prunes')
          .values({
            tenant_id: tenant,
            seq: 10,
            hash: checkpoint?.hash ?? '',
            entries: 10,
            older_than: f.clock.time,
            pruned_at: f.clock.time,
            // A checkpoint's genuine signature reused: it signs another payload.
            key_id: checkpoint?.key_id ?? '',
            signature: checkpoint?.signature ?? '',
          })
          .execute(),
      );
      expect(await f.audit.verify(f.storage, tenant)).toMatchObject({
        ok: false,
        firstBad: { seq: 10, reason: 'prune record signature invalid' },
      });
    });

    it('attack: a genuine record moved to a later checkpoint, to cut more, fails its signature', async () => {
      const { tenant, cutOff } = await chain(5, 12);
      await pruner().prune(tenant, { olderThan: cutOff });
      const later = (await f.checkpoints(tenant)).find((row) => row.seq === 15);
      await deleteUpTo(tenant, 15);
      await f.asTenant(tenant, (tx) =>
        tx
          .updateTable('audit_prunes')
          .set({ seq: 15, hash: later?.hash ?? '', entries: 15 })
          .where('tenant_id', '=', tenant)
          .execute(),
      );
      expect(await f.audit.verify(f.storage, tenant)).toMatchObject({
        ok: false,
        firstBad: { seq: 15, reason: 'prune record signature invalid' },
      });
      expect(await f.audit.checkpointTail(f.storage, tenant, Number.POSITIVE_INFINITY)).toMatchObject({
        status: 'refused',
        firstBad: { reason: 'prune record signature invalid' },
      });
    });

    it("attack: another tenant's genuine record copied in fails its signature", async () => {
      const donor = await chain(10, 1);
      await pruner().prune(donor.tenant, { olderThan: donor.cutOff });
      const [record] = await prunes(donor.tenant);
      if (!record) throw new Error('the donor chain was not pruned');
      const { tenant } = await chain(12, 0);
      await deleteUpTo(tenant, 10);
      const own = (await f.rows(tenant))[0];
      await f.asTenant(tenant, (tx) =>
        tx
          .insertInto('audit_prunes')
          .values({ ...record, tenant_id: tenant, hash: own?.prev_hash ?? '' })
          .execute(),
      );
      expect(await f.audit.verify(f.storage, tenant)).toMatchObject({
        ok: false,
        firstBad: { seq: 10, reason: 'prune record signature invalid' },
      });
    });

    it('attack: the record deleted after a pruning leaves a sequence gap', async () => {
      const { tenant, cutOff } = await chain(10, 1);
      await pruner().prune(tenant, { olderThan: cutOff });
      await f.asTenant(tenant, (tx) =>
        tx.deleteFrom('audit_prunes').where('tenant_id', '=', tenant).execute(),
      );
      expect(await f.audit.verify(f.storage, tenant)).toMatchObject({
        ok: false,
        firstBad: { seq: 11, reason: 'sequence gap' },
      });
      // Nor does the next pruning paper over the gap with a record of its own.
      expect(await pruner().prune(tenant, { olderThan: cutOff })).toMatchObject({
        status: 'refused',
        firstBad: { seq: 11, reason: 'sequence gap' },
      });
      expect(await prunes(tenant)).toHaveLength(0);
    });
  });

  describe('the retention pass', () => {
    it("prunes by each tenant's maximum, keeps chains without one, never under the minimum", async () => {
      const kept = await chain(10, 0);
      const pruned = await chain(10, 0);
      f.clock.time += 400 * DAY;
      await f.record(pruned.tenant, {
        actor: { type: 'system' },
        action: 'tenant.updated',
        outcome: 'success',
      });
      const retention = createAuditRetention({
        storage: f.storage,
        clock: { now: () => f.clock.time },
        pruner: pruner(),
        ruleFor: (tenantId) =>
          Promise.resolve(
            tenantId === pruned.tenant
              ? { minimumMs: 30 * DAY, maximumMs: 365 * DAY }
              : { minimumMs: 30 * DAY, maximumMs: null },
          ),
      });
      const pass = await retention.run();
      expect(pass.failed).toEqual([]);
      expect(pass.pruned).toContainEqual(
        expect.objectContaining({ tenantId: pruned.tenant, throughSeq: 10 }),
      );
      expect(await seqs(kept.tenant)).toHaveLength(10);
      expect((await seqs(pruned.tenant))[0]).toBe(11);
      // A maximum under the minimum keeps the minimum: nothing here is older than 500 days.
      const strict = createAuditRetention({
        storage: f.storage,
        clock: { now: () => f.clock.time },
        pruner: pruner(),
        ruleFor: (tenantId) =>
          Promise.resolve({ minimumMs: 500 * DAY, maximumMs: tenantId === kept.tenant ? 1 * DAY : null }),
      });
      expect((await strict.run()).pruned).toEqual([]);
      expect(await seqs(kept.tenant)).toHaveLength(10);
    });

    it('keeps the whole chain of a tenant with anything under legal hold', async () => {
      const held = await chain(10, 1);
      const retention = createAuditRetention({
        storage: f.storage,
        clock: { now: () => f.clock.time },
        pruner: pruner(),
        ruleFor: (tenantId) =>
          Promise.resolve({ minimumMs: DAY, maximumMs: tenantId === held.tenant ? DAY : null }),
        isHeld: (tenantId) => Promise.resolve(tenantId === held.tenant),
      });
      expect((await retention.run()).held).toEqual([held.tenant]);
      expect(await seqs(held.tenant)).toHaveLength(11);
    });
  });
});
