import { statSync } from 'node:fs';
import Database from 'better-sqlite3';

export interface SnapshotFacts {
  pageSize: number;
  pageCount: number;
  /** The stream epoch the snapshot holds (`parley_meta`). */
  epoch: string;
}

/** Pages copied per step: small steps keep the event loop free, so a server taking a backup keeps serving. */
const PAGES_PER_STEP = 256;

/**
 * Copies the SQLite database at `source` into `target`, page for page, as of one moment, while other
 * connections (the server, in this or another process) keep writing.
 *
 * SQLite's online backup API copies in steps and restarts when another connection writes between two steps,
 * which under a steady stream of sends could mean never finishing. So the copy runs inside a read
 * transaction held open on the source connection: in WAL mode a reader sees one snapshot for as long as its
 * transaction lasts and never blocks writers (they append to the WAL; checkpoints stop short of frames a
 * reader still needs), and the backup steps read that snapshot. The copy keeps page numbers, so two
 * snapshots of one database can be compared page by page (incremental backups).
 */
export async function snapshotSqlite(source: string, target: string): Promise<SnapshotFacts> {
  const db = new Database(source, { fileMustExist: true, timeout: 10_000 });
  try {
    db.exec('BEGIN');
    // The first read starts the snapshot; everything below reads the same one.
    const epoch = (
      db.prepare("select value from parley_meta where key = 'epoch'").get() as { value: string } | undefined
    )?.value;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const pageCount = db.pragma('page_count', { simple: true }) as number;
    await db.backup(target, { progress: () => PAGES_PER_STEP });
    db.exec('COMMIT');
    const size = statSync(target).size;
    if (size !== pageSize * pageCount) {
      throw new Error(`snapshot holds ${size} bytes, expected ${pageCount} pages of ${pageSize}`);
    }
    return { pageSize, pageCount, epoch: epoch ?? 'none' };
  } finally {
    db.close();
  }
}
