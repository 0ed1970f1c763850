import type { Kysely, Migration } from 'kysely';

/**
 * `dialogs.pruned_seq`: the highest sequence number of a change the retention sweeper removed from the dialog's
 * stream for good (an expired message's tombstone and its events, once past the resume horizon). A client
 * resuming from a position below it may have missed a deletion that is no longer there to replay, so it is told
 * to resync instead (docs/realtime.md, docs/privacy.md "The sweeper"). 0: nothing was ever pruned.
 */
export const dialogPrunedSeqMigration = (): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('dialogs')
      .addColumn('pruned_seq', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
  },
});
