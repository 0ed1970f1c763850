import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAccessLogRetentionTask } from '../../../src/compliance/access-log/index.ts';
import { createAccessLogService } from '../../../src/compliance/access-log/access-log-service.ts';
import { verifyAccessLog } from '../../../src/compliance/access-log/access-log-verifier.ts';
import type { PendingAccess } from '../../../src/compliance/access-log/access-recorder.ts';
import { createAuditPruner } from '../../../src/compliance/audit/audit-pruner.ts';
import { describeEachDialect } from '../../support/dialects.ts';
import { type AuditFixture, openAuditFixture } from '../audit-fixture.ts';

const DAY = 86_400_000;

/**
 * Access records are kept under the audit retention rules (issue 17 point 6): they go exactly when audit
 * retention prunes the chain entries of their batches, never before, and what is left still verifies.
 */
describeEachDialect('access log retention', (dialect) => {
  let f: AuditFixture;
  beforeAll(async () => {
    f = await openAuditFixture(dialect, { checkpointEvery: 5, batchSize: 4 });
  });
  afterAll(async () => {
    await f.test.close();
  });

  it('removes the records of pruned batches only, and the rest verifies', async () => {
    const tenantId = await f.newTenant();
    const service = createAccessLogService({ storage: f.storage, audit: f.audit });
    const read = (n: number): PendingAccess => ({
      kind: 'history',
      reader: { type: 'user', id: 'u1', grantId: null, sessionId: 's1' },
      dialogId: 'd1',
      fromSeq: n,
      toSeq: n + 1,
      fileId: null,
      firstReadAt: f.clock.time,
      lastReadAt: f.clock.time,
    });
    // Twelve old batches (two reads each), then a day later three young ones.
    for (let n = 1; n <= 12; n += 1) await service.writeBatch(tenantId, [read(n), read(n + 100)]);
    f.clock.time += DAY;
    const cutOff = f.clock.time;
    for (let n = 13; n <= 15; n += 1) await service.writeBatch(tenantId, [read(n)]);
    const count = () =>
      f.storage.withTenant(tenantId, async (tx) =>
        (
          await tx.selectFrom('access_log').select('batch_seq').where('tenant_id', '=', tenantId).execute()
        ).map((row) => row.batch_seq),
      );
    expect(await count()).toHaveLength(27);
    const task = createAccessLogRetentionTask({ storage: f.storage, audit: f.audit, accessLog: service });
    const run = () => task.run({ signal: new AbortController().signal, scheduledFor: f.clock.time } as never);

    // Nothing pruned yet: nothing goes.
    await run();
    expect(await count()).toHaveLength(27);

    const pruner = createAuditPruner({
      storage: f.storage,
      audit: f.audit,
      signingKeys: f.test.security.signingKeys,
      clock: { now: () => f.clock.time },
      checkpointEvery: 5,
      batchSize: 3,
    });
    expect(await pruner.prune(tenantId, { olderThan: cutOff })).toMatchObject({
      status: 'pruned',
      throughSeq: 10,
    });
    // Before the task: the records of pruned batches wait, and the log still verifies.
    expect(await verifyAccessLog(f.storage, f.audit, tenantId)).toMatchObject({ ok: true });
    await run();
    const left = await count();
    expect(left).toHaveLength(27 - 20);
    expect(Math.min(...left)).toBe(11);
    expect(await verifyAccessLog(f.storage, f.audit, tenantId)).toMatchObject({
      ok: true,
      batches: 5,
      records: 7,
    });
  });
});
