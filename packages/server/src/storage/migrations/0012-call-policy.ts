import type { Kysely, Migration } from 'kysely';

/** Who may call whom in a tenant: people sharing a dialog (default), or anyone in the tenant. */
export const callPolicyMigration = (): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('tenant_settings')
      .addColumn('call_policy', 'text', (c) => c.notNull().defaultTo('shared_dialog'))
      .execute();
  },
});
