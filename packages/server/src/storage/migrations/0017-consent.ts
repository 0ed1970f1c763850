import { type Kysely, type Migration, sql } from 'kysely';
import { purposeTextHash, SERVICE_PURPOSE } from '../../compliance/gdpr/consent-defaults.ts';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Consent before processing (GDPR Art. 7, docs/privacy.md):
 * - `consent_purposes`: every version of every processing purpose of a tenant, kept for ever (a ledger row
 *   names a version, and the words of that version must stay readable). The row without `superseded_at` is
 *   the current one; `required` and `active` are changed on it in place, title, text or lawful basis make a
 *   new row.
 * - `consent_ledger`: append-only, one row per grant or withdrawal, with the SHA-256 of the text the user
 *   saw. No foreign key to `users`: the proof of consent must outlive the account (Art. 7(1)); the user id
 *   is the pseudonymous UUID, nothing else about the person is stored here.
 * - `consent_states`: each user's latest standing per purpose, derived from the ledger in the same
 *   transaction, so the check every token resolution makes and the coverage counts read one row per user
 *   instead of searching the ledger for its newest entry.
 *
 * Tenants older than this migration get the `service` purpose here (before row-level security is switched
 * on: the policy would refuse rows written outside a tenant transaction); newer ones get it when created.
 * No existing user is recorded as having accepted it: nobody has, and a ledger row claiming otherwise would
 * be false evidence. They are asked at their next request (docs/privacy.md, "Upgrading").
 */
export const consentMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('consent_purposes')
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('text', 'text', (c) => c.notNull())
      .addColumn('text_hash', 'text', (c) => c.notNull())
      .addColumn('lawful_basis', 'text', (c) => c.notNull())
      .addColumn('required', 'integer', (c) => c.notNull())
      .addColumn('active', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('superseded_at', 'bigint')
      .addPrimaryKeyConstraint('consent_purposes_pk', ['tenant_id', 'key', 'version'])
      .execute();

    await db.schema
      .createTable('consent_ledger')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('purpose_key', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('text_hash', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('consent_ledger_user')
      .on('consent_ledger')
      .columns(['tenant_id', 'user_id', 'at'])
      .execute();

    await db.schema
      .createTable('consent_states')
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('purpose_key', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('granted', 'integer', (c) => c.notNull())
      .addColumn('changed_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('consent_states_pk', ['tenant_id', 'user_id', 'purpose_key'])
      .execute();
    await db.schema
      .createIndex('consent_states_purpose')
      .on('consent_states')
      .columns(['tenant_id', 'purpose_key'])
      .execute();

    const now = Date.now();
    const { rows: tenants } = await sql<{ id: string }>`select id from tenants`.execute(db);
    for (const tenant of tenants) {
      await db
        .insertInto('consent_purposes' as never)
        .values({
          tenant_id: tenant.id,
          key: SERVICE_PURPOSE.key,
          version: 1,
          title: SERVICE_PURPOSE.title,
          text: SERVICE_PURPOSE.text,
          text_hash: purposeTextHash(SERVICE_PURPOSE.text),
          lawful_basis: SERVICE_PURPOSE.lawfulBasis,
          required: 1,
          active: 1,
          created_at: now,
          updated_at: now,
          superseded_at: null,
        })
        .execute();
    }

    for (const table of ['consent_purposes', 'consent_ledger', 'consent_states'])
      await adapter.isolateTenantTable(db, table);
  },
});
