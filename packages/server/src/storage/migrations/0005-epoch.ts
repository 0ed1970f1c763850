import { randomUUID } from 'node:crypto';
import type { Kysely, Migration } from 'kysely';

/**
 * Deployment-wide values. `epoch` names this database's history: a restore from a backup must write a new
 * one, so realtime clients holding positions from the lost future resync instead of waiting for sequence
 * numbers that will be reused.
 */
export const epochMigration = (): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('parley_meta')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
    await db
      .insertInto('parley_meta' as never)
      .values({ key: 'epoch', value: randomUUID() })
      .execute();
  },
});
