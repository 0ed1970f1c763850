import type { Kysely, Migration } from 'kysely';

/**
 * Everything personal sealed at rest (docs/security.md, "Keys"): four columns were stored as plain text.
 *
 * - `users.avatar_url` is sealed under the owning user's key, `support_grants.reason` under the tenant's data
 *   key, like their neighbours;
 * - `staff_accounts.email` and `legal_requests.review_notes` belong to no tenant: they are sealed under the
 *   platform's own data key, kept in the new `platform_keys` (wrapped by the master key like tenant keys;
 *   no tenant id, so no row-level security: only system transactions read it). Staff sign in by e-mail, so
 *   `staff_accounts` gains `email_index`, the blind index of the address under the platform index key,
 *   unique per installation.
 *
 * A migration holds no key, so the values already stored are sealed in place by the start-up step that runs
 * right after the migrations (storage/plaintext-sealing.ts), which overwrites each plain value with its
 * envelope; the unique constraint on `staff_accounts.email` stays harmless on envelopes.
 */
export const sealedPersonalFieldsMigration = (): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('platform_keys')
      .addColumn('purpose', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('wrapped_key', 'text', (c) => c.notNull())
      .addColumn('master_version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('platform_keys_pk', ['purpose', 'version'])
      .execute();
    await db.schema.alterTable('staff_accounts').addColumn('email_index', 'text').execute();
    await db.schema
      .createIndex('staff_accounts_email_index')
      .on('staff_accounts')
      .column('email_index')
      .unique()
      .execute();
  },
});
