import path from 'node:path';
import { sql } from 'kysely';
import { AuditAnchorFile } from '../../src/compliance/audit/audit-anchor-file.ts';
import type { AnchorWebhook } from '../../src/compliance/audit/audit-anchor-webhook.ts';
import { AuditAnchors } from '../../src/compliance/audit/audit-anchors.ts';
import type { AuditInput } from '../../src/compliance/audit/audit-entry.ts';
import { AuditLog } from '../../src/compliance/audit/audit-log.ts';
import { newId } from '../../src/ids.ts';
import type { Storage, TenantTx } from '../../src/storage/database.ts';
import type { DialectName } from '../../src/storage/dialects/dialect-adapter.ts';
import type { AuditCheckpointsTable, AuditHeadsTable, AuditLogTable } from '../../src/storage/tables.ts';
import { openTestStorage, type TestStorage } from '../support/test-storage.ts';

/** A migrated database with an `AuditLog` on a clock the test sets, and helpers to read raw audit rows. */
export interface AuditFixture {
  test: TestStorage;
  storage: Storage;
  audit: AuditLog;
  /** The time the next entry (and checkpoint) is stamped with, in ms; every read of it adds 1 s. */
  clock: { time: number };
  newTenant(): Promise<string>;
  /** Appends one entry in its own transaction. */
  record(tenantId: string, input: AuditInput): Promise<{ id: string; seq: number }>;
  /** Appends `count` sample entries, each in its own transaction. */
  recordMany(tenantId: string, count: number): Promise<void>;
  rows(tenantId: string): Promise<AuditLogTable[]>;
  head(tenantId: string): Promise<AuditHeadsTable | undefined>;
  checkpoints(tenantId: string): Promise<AuditCheckpointsTable[]>;
  /** The anchor file (`<data dir>/audit-anchors.log`) the log anchors its chains in. */
  anchorFile: string;
  anchors: AuditAnchors;
  /** Runs raw statements as a tenant-bound transaction: what an attacker with the server's role can do. */
  asTenant<T>(tenantId: string, work: (tx: TenantTx) => Promise<T>): Promise<T>;
}

export async function openAuditFixture(
  dialect: DialectName,
  options: { checkpointEvery: number; batchSize: number; webhook?: AnchorWebhook },
): Promise<AuditFixture> {
  const test = await openTestStorage(dialect);
  const { storage } = test;
  const clock = { time: 1_800_000_000_000 };
  const anchorFile = path.join(test.database.dataDir, 'audit-anchors.log');
  const anchors = new AuditAnchors({
    file: new AuditAnchorFile(anchorFile, test.security.signingKeys),
    clock: { now: () => clock.time },
    webhook: options.webhook,
  });
  const audit = new AuditLog({
    fieldCipher: test.security.fieldCipher,
    signingKeys: test.security.signingKeys,
    clock: { now: () => (clock.time += 1000) },
    dialect,
    checkpointEvery: options.checkpointEvery,
    batchSize: options.batchSize,
    anchors,
  });
  const record = (tenantId: string, input: AuditInput) =>
    storage.withTenant(tenantId, (tx) => audit.append(tx, tenantId, input));
  return {
    test,
    storage,
    audit,
    clock,
    anchorFile,
    anchors,
    async newTenant() {
      const id = newId();
      await storage.withSystem((tx) =>
        tx
          .insertInto('tenants')
          .values({ id, name: `Tenant ${id}`, status: 'active', created_at: 1 })
          .execute(),
      );
      return id;
    },
    record,
    async recordMany(tenantId, count) {
      for (let n = 1; n <= count; n += 1) await record(tenantId, sampleEvent(n));
    },
    rows: (tenantId) =>
      storage.withTenant(tenantId, (tx) =>
        tx.selectFrom('audit_log').selectAll().where('tenant_id', '=', tenantId).orderBy('seq').execute(),
      ),
    head: (tenantId) =>
      storage.withTenant(tenantId, (tx) =>
        tx.selectFrom('audit_heads').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst(),
      ),
    checkpoints: (tenantId) =>
      storage.withTenant(tenantId, (tx) =>
        tx
          .selectFrom('audit_checkpoints')
          .selectAll()
          .where('tenant_id', '=', tenantId)
          .orderBy('seq')
          .execute(),
      ),
    // The attacker is a database administrator: the table owner, not the application role (which may
    // only append to the audit log), with the tenant set so row-level security shows the rows.
    asTenant: (tenantId, work) =>
      storage.withSystem(async (tx) => {
        if (dialect === 'postgres')
          await sql`select set_config('app.tenant_id', ${tenantId}, true)`.execute(tx);
        return work(tx as unknown as TenantTx);
      }),
  };
}

/** A user event with every optional field set, distinct per `n`. */
export function sampleEvent(n: number, overrides: Partial<AuditInput> = {}): AuditInput {
  return {
    actor: { type: 'user', id: `user-${n % 2}`, sessionId: `session-${n}` },
    action: 'message.sent',
    target: { type: 'message', id: `message-${n}` },
    outcome: 'success',
    ip: `203.0.113.${n}`,
    userAgent: `ParleyTest/${n} (X11; Linux)`,
    requestId: `request-${n}`,
    details: { n, nested: { list: [n, 'x', null, true] } },
    ...overrides,
  };
}
