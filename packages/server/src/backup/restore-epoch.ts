import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Storage } from '../storage/database.ts';

const TIMELINE_KEY = 'epoch_timeline';

/**
 * A PostgreSQL cluster restored from a backup (or promoted from a replica) ends its recovery on a new
 * timeline; the database cannot tell otherwise that it went back in time. The timeline the stream epoch was
 * set under is kept in `parley_meta` (`epoch_timeline`): at start-up, a server that finds the cluster on
 * another timeline gives the database a new epoch before it serves, so realtime clients holding positions
 * from after the backup point resync instead of waiting for sequence numbers that will be reused
 * (docs/realtime.md). Both rows change in one transaction under a row lock, so nodes starting together agree
 * on one new epoch. A database whose timeline was never recorded gets it recorded, the epoch unchanged.
 * Answers the new epoch when it renewed one. SQLite restores write the new epoch themselves (backup-restore.ts).
 */
export async function renewEpochAfterRestore(storage: Storage): Promise<string | undefined> {
  if (storage.dialect !== 'postgres') return undefined;
  return storage.withSystem(async (tx) => {
    await tx
      .selectFrom('parley_meta')
      .select('value')
      .where('key', '=', 'epoch')
      .forUpdate()
      .executeTakeFirstOrThrow();
    const { rows } = await sql<{ wal: string }>`select pg_walfile_name(pg_current_wal_lsn()) as wal`.execute(
      tx,
    );
    const timeline = String(Number.parseInt((rows[0]?.wal ?? '').slice(0, 8), 16));
    const recorded = await tx
      .selectFrom('parley_meta')
      .select('value')
      .where('key', '=', TIMELINE_KEY)
      .executeTakeFirst();
    if (recorded?.value === timeline) return undefined;
    await tx
      .insertInto('parley_meta')
      .values({ key: TIMELINE_KEY, value: timeline })
      .onConflict((conflict) => conflict.column('key').doUpdateSet({ value: timeline }))
      .execute();
    if (!recorded) return undefined;
    const epoch = randomUUID();
    await tx.updateTable('parley_meta').set({ value: epoch }).where('key', '=', 'epoch').execute();
    return epoch;
  });
}
