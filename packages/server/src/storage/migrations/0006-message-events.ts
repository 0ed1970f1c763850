import type { Kysely, Migration } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Changes to messages after they are sent (edits, deletions for everyone, reactions) are sequenced events:
 * each takes the dialog's next sequence number, like a message, and is recorded in `dialog_events`, so a
 * client resuming from any position sees every change exactly once and in commit order. Also: "delete for
 * me" per message, delivered receipts, block lists, presence privacy and the tenant's messaging limits.
 */
export const messageEventsMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('dialog_events')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('dialog_id', 'text', (c) => c.notNull().references('dialogs.id').onDelete('cascade'))
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) => c.notNull())
      .addColumn('actor_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('dialog_events_pk', ['dialog_id', 'seq'])
      .execute();
    await adapter.isolateTenantTable(db, 'dialog_events');

    await db.schema
      .createTable('message_reactions')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('emoji', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('message_reactions_pk', ['message_id', 'user_id', 'emoji'])
      .execute();
    await adapter.isolateTenantTable(db, 'message_reactions');

    await db.schema
      .createTable('hidden_messages')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('hidden_messages_pk', ['message_id', 'user_id'])
      .execute();
    await db.schema
      .createIndex('hidden_messages_user')
      .on('hidden_messages')
      .columns(['tenant_id', 'user_id'])
      .execute();
    await adapter.isolateTenantTable(db, 'hidden_messages');

    await db.schema
      .createTable('user_blocks')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('blocked_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('user_blocks_pk', ['tenant_id', 'user_id', 'blocked_id'])
      .execute();
    await adapter.isolateTenantTable(db, 'user_blocks');

    // Jump to a date.
    await db.schema
      .createIndex('messages_dialog_time')
      .on('messages')
      .columns(['dialog_id', 'created_at'])
      .execute();

    await db.schema
      .alterTable('dialog_members')
      .addColumn('delivered_seq', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .alterTable('users')
      .addColumn('presence_visibility', 'text', (c) => c.notNull().defaultTo('contacts'))
      .execute();
    await db.schema.alterTable('users').addColumn('last_active_at', 'bigint').execute();
    for (const [column, value] of [
      ['max_group_members', 1000],
      ['max_message_bytes', 16_384],
      ['max_attachment_bytes', 25 * 1024 * 1024],
      ['edit_window_seconds', 0],
    ] as const) {
      await db.schema
        .alterTable('tenant_settings')
        .addColumn(column, 'bigint', (c) => c.notNull().defaultTo(value))
        .execute();
    }
  },
});
