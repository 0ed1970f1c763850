import type { Kysely, Migration } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Dialogs, members and messages. Every change in a dialog takes the next per-dialog sequence number in the
 * transaction that makes it (the dialog row is locked for that), and is recorded in `dialog_events`, the
 * stream clients resume from. Message bodies and dialog texts are sealed with the tenant key.
 */
export const messagingMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('dialogs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('pair_key', 'text')
      .addColumn('name', 'text')
      .addColumn('description', 'text')
      .addColumn('photo_url', 'text')
      .addColumn('custom_data', 'text')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('hide_history', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_seq', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('last_activity_at', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('deleted_at', 'bigint')
      .addUniqueConstraint('dialogs_pair_unique', ['tenant_id', 'pair_key'])
      .execute();
    await db.schema
      .createIndex('dialogs_activity')
      .on('dialogs')
      .columns(['tenant_id', 'last_activity_at'])
      .execute();
    await adapter.isolateTenantTable(db, 'dialogs');

    await db.schema
      .createTable('dialog_members')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('dialog_id', 'text', (c) => c.notNull().references('dialogs.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('joined_seq', 'bigint', (c) => c.notNull())
      .addColumn('joined_at', 'bigint', (c) => c.notNull())
      .addColumn('left_at', 'bigint')
      .addColumn('read_seq', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('cleared_seq', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('muted', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('pinned', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('dialog_members_pk', ['dialog_id', 'user_id'])
      .execute();
    await db.schema
      .createIndex('dialog_members_user')
      .on('dialog_members')
      .columns(['tenant_id', 'user_id'])
      .execute();
    await adapter.isolateTenantTable(db, 'dialog_members');

    await db.schema
      .createTable('messages')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('dialog_id', 'text', (c) => c.notNull().references('dialogs.id').onDelete('cascade'))
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('sender_id', 'text', (c) => c.notNull())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('body', 'text')
      .addColumn('reply_to', 'text')
      .addColumn('mentions', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('properties', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('edited_at', 'bigint')
      .addColumn('deleted_at', 'bigint')
      .addUniqueConstraint('messages_seq_unique', ['dialog_id', 'seq'])
      // The idempotency key: a retried send finds the message it already made.
      .addUniqueConstraint('messages_client_unique', ['tenant_id', 'sender_id', 'client_id'])
      .execute();
    await adapter.isolateTenantTable(db, 'messages');
  },
});
