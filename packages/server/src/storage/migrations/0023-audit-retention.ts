import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Audit log retention and data minimisation (issue 14, points 5 and 6).
 *
 * - `audit_prunes`: one signed "pruned up to" record per pruning of a chain. Entries up to `seq` (a signed
 *   checkpoint) were removed; verification starts from the newest record's `hash` instead of the genesis
 *   hash, so the rest of the chain still verifies and the gap is explained. Like the other audit tables it
 *   has no foreign key to tenants: the record must outlive what it records.
 * - `audit_log.pii_commitment`: entries written from now on hash a commitment to their sealed ip and user
 *   agent (SHA-256 of the two ciphertexts) instead of the ciphertexts themselves, so minimisation can
 *   replace those later without breaking the chain. Null on entries written before: their hash covers the
 *   ciphertexts, which therefore stay as they are.
 * - `audit_log.pii_minimised_at`, `sessions.device_minimised_at`: when the ip was truncated and the user
 *   agent dropped (null: not yet), with partial indexes of the rows still in full.
 */
export const auditRetentionMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('audit_prunes')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('entries', 'bigint', (c) => c.notNull())
      .addColumn('older_than', 'bigint', (c) => c.notNull())
      .addColumn('pruned_at', 'bigint', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('signature', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('audit_prunes_pk', ['tenant_id', 'seq'])
      .execute();
    await adapter.isolateTenantTable(db, 'audit_prunes');
    await db.schema.alterTable('audit_log').addColumn('pii_commitment', 'text').execute();
    await db.schema.alterTable('audit_log').addColumn('pii_minimised_at', 'bigint').execute();
    await db.schema.alterTable('sessions').addColumn('device_minimised_at', 'bigint').execute();
    // What the hourly minimisation looks for, and only that: the index holds the rows still in full, so a
    // pass costs what is due, not the whole history.
    await db.schema
      .createIndex('audit_log_pii_due')
      .on('audit_log')
      .columns(['tenant_id', 'occurred_at'])
      .where(
        sql<boolean>`pii_minimised_at is null and pii_commitment is not null and (ip is not null or user_agent is not null)`,
      )
      .execute();
    await db.schema
      .createIndex('sessions_device_due')
      .on('sessions')
      .columns(['tenant_id', 'created_at'])
      .where(sql<boolean>`device_minimised_at is null and device is not null`)
      .execute();
  },
});
