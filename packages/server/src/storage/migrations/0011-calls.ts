import type { Kysely, Migration } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Call records: who called whom, media, when it rang, was answered and ended, how it ended. Signaling
 * (SDP, ICE candidates) is relayed and never stored.
 */
export const callsMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('calls')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('dialog_id', 'text')
      .addColumn('caller_id', 'text', (c) => c.notNull())
      .addColumn('caller_device_id', 'text', (c) => c.notNull())
      .addColumn('media', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('outcome', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('answered_at', 'bigint')
      .addColumn('ended_at', 'bigint')
      .execute();
    await db.schema
      .createIndex('calls_dialog')
      .on('calls')
      .columns(['tenant_id', 'dialog_id', 'created_at'])
      .execute();
    await adapter.isolateTenantTable(db, 'calls');

    await db.schema
      .createTable('call_participants')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('call_id', 'text', (c) => c.notNull().references('calls.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('device_id', 'text')
      .addColumn('joined_at', 'bigint')
      .addColumn('left_at', 'bigint')
      .addPrimaryKeyConstraint('call_participants_pk', ['call_id', 'user_id'])
      .execute();
    await db.schema
      .createIndex('call_participants_user')
      .on('call_participants')
      .columns(['tenant_id', 'user_id', 'state'])
      .execute();
    await adapter.isolateTenantTable(db, 'call_participants');
  },
});
