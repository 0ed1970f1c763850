import type { Clock } from '../../src/clock.ts';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import type { DialectName } from '../../src/storage/dialects/dialect-adapter.ts';
import { migrateToLatest } from '../../src/storage/migrator.ts';
import { createTestDatabase } from '../support/dialects.ts';

/** Time that moves only when a test moves it: leases and backoffs are tested without sleeping. */
export class ManualClock implements Clock {
  constructor(private at = Date.UTC(2030, 0, 1)) {}
  now(): number {
    return this.at;
  }
  advance(ms: number): void {
    this.at += ms;
  }
  set(at: number): void {
    this.at = at;
  }
}

/**
 * One migrated database and a handle on it per node. On PostgreSQL each node has its own pool. On SQLite all
 * nodes share one connection: two better-sqlite3 connections in one process deadlock, since one waits for
 * the write lock synchronously, blocking the event loop on which the other would commit (an SQLite
 * deployment is one process; several nodes need PostgreSQL). The nodes still differ by node id.
 */
export interface SharedDatabase {
  readonly dialect: DialectName;
  /** The handle that migrated the database, for a test's own reads and writes (one pool, not one a call). */
  readonly main: Storage;
  /** A node's handle on the database. */
  node(): Storage;
  close(): Promise<void>;
}

export async function openSharedDatabase(dialect: DialectName): Promise<SharedDatabase> {
  const database = createTestDatabase(dialect);
  const handles: Storage[] = [];
  const node = () => {
    if (dialect === 'sqlite' && handles[0] !== undefined) return handles[0];
    const storage = openStorage({
      dataDir: database.dataDir,
      databaseUrl: database.env.DATABASE_URL,
      databaseSchema: database.schema ?? 'public',
      databasePoolSize: 4,
    });
    handles.push(storage);
    return storage;
  };
  const main = node();
  await migrateToLatest(main);
  return {
    dialect,
    main,
    node,
    async close() {
      await Promise.all(handles.map((storage) => storage.close().catch(() => undefined)));
      await database.drop();
    },
  };
}

/** A promise with its resolver, to hold a handler at a point and let it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}
