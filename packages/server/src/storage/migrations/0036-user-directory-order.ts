import type { Kysely, Migration } from 'kysely';

/**
 * The user directory (`GET /v1/tenant/users`) pages a tenant's users by creation time, then id (a keyset):
 * with this index each page reads its own rows, not every user of the tenant sorted again.
 */
export const userDirectoryOrderMigration = (): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createIndex('users_directory_order')
      .on('users')
      .columns(['tenant_id', 'created_at', 'id'])
      .execute();
  },
});
