import { mkdtempSync, rmSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import type { FileSync } from '../../src/storage/dialects/sqlite-wal-sync.ts';

/**
 * SQLite commits are durable before anyone is answered, as under `synchronous = FULL`, but the WAL's fsync
 * runs off the event loop and is shared by the commits made meanwhile. The fsync is replaced by one the test
 * holds open, so "not answered before the flush" is observed rather than assumed.
 */
interface HeldSync {
  sync: FileSync;
  /** Flushes started so far, each with the rows the table held when it started and its release. */
  started: { rowsAtStart: number; release(error?: Error): void }[];
}

function heldSync(countRows: () => number): HeldSync {
  const started: HeldSync['started'] = [];
  const sync: FileSync = async (file: FileHandle) => {
    const rowsAtStart = countRows();
    await new Promise<void>((resolve, reject) => {
      started.push({
        rowsAtStart,
        release: (error) => {
          if (error) reject(error);
          else resolve(file.datasync());
        },
      });
    });
  };
  return { sync, started };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('SQLite durable commits', () => {
  let dataDir: string;
  let storage: Storage | undefined;

  afterEach(async () => {
    await storage?.close();
    storage = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A storage whose WAL flushes the test releases; `rows` counts the committed rows of table `t`. */
  async function open() {
    dataDir = mkdtempSync(path.join(tmpdir(), 'parley-durable-'));
    let rows = 0;
    const held = heldSync(() => rows);
    storage = openStorage({ dataDir, databaseSchema: '', databasePoolSize: 1, sqliteWalSync: held.sync });
    // Autocommit writes are flushed synchronously (they do not go through the held sync).
    await sql`create table t (n integer)`.execute(storage.kysely);
    const insert = (n: number) =>
      (storage as Storage).withSystem(async (tx) => {
        await sql`insert into t (n) values (${n})`.execute(tx);
        rows += 1;
      });
    return { storage, held, insert };
  }

  it('answers a transaction that wrote only after a flush that began after its commit', async () => {
    const { held, insert } = await open();
    let answered = false;
    const write = insert(1).then(() => {
      answered = true;
    });
    await settle();
    expect(held.started).toHaveLength(1);
    expect(held.started[0]?.rowsAtStart).toBe(1); // the flush began after the commit
    expect(answered).toBe(false);
    held.started[0]?.release();
    await write;
    expect(answered).toBe(true);
  });

  it('makes a commit that lands during a flush wait for the next one, shared by every commit meanwhile', async () => {
    const { held, insert } = await open();
    const first = insert(1);
    await settle();
    expect(held.started).toHaveLength(1);
    // Ten commits while the first flush is still running: none may be answered by it.
    let answered = 0;
    const more = Array.from({ length: 10 }, (_, index) =>
      insert(index + 2).then(() => {
        answered += 1;
      }),
    );
    await settle();
    held.started[0]?.release();
    await first;
    await settle();
    expect(answered).toBe(0);
    expect(held.started).toHaveLength(2); // one flush for all ten
    expect(held.started[1]?.rowsAtStart).toBe(11);
    held.started[1]?.release();
    await Promise.all(more);
    expect(answered).toBe(10);
  });

  it('does not flush for a transaction that only read, and does not keep it waiting', async () => {
    const { storage, held, insert } = await open();
    const write = insert(1);
    await settle();
    const read = await storage.withSystem(
      async (tx) => (await sql`select count(*) as n from t`.execute(tx)).rows,
    );
    expect(read).toEqual([{ n: 1 }]);
    expect(held.started).toHaveLength(1);
    held.started[0]?.release();
    await write;
  });

  it('fails the transaction when the flush fails: no caller is told it is durable', async () => {
    const { held, insert } = await open();
    const write = insert(1);
    await settle();
    held.started[0]?.release(new Error('EIO: the disk failed'));
    await expect(write).rejects.toThrow('EIO');
    // The next commit flushes afresh.
    const next = insert(2);
    await settle();
    expect(held.started).toHaveLength(2);
    held.started[1]?.release();
    await next;
  });

  it('flushes a write outside any transaction before it returns, without the shared flush', async () => {
    const { storage, held } = await open();
    const { rows } = await sql<{ n: number }>`insert into t (n) values (7) returning n`.execute(
      storage.kysely,
    );
    expect(rows).toEqual([{ n: 7 }]);
    await sql`delete from t where n = 7`.execute(storage.kysely);
    expect(held.started).toHaveLength(0);
  });

  it('runs the connection with synchronous = NORMAL only because the commits are flushed as above', async () => {
    const { storage } = await open();
    const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute(storage.kysely);
    expect(rows).toEqual([{ synchronous: 1 }]);
  });
});

describe('SQLite durable commits with the real fsync', () => {
  it('commits, flushes the WAL file and reads back', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-durable-'));
    const storage = openStorage({ dataDir, databaseSchema: '', databasePoolSize: 1 });
    try {
      await sql`create table t (n integer)`.execute(storage.kysely);
      await Promise.all(
        Array.from({ length: 50 }, (_, n) =>
          storage.withSystem((tx) => sql`insert into t (n) values (${n})`.execute(tx)),
        ),
      );
      const { rows } = await sql<{ n: number }>`select count(*) as n from t`.execute(storage.kysely);
      expect(rows).toEqual([{ n: 50 }]);
    } finally {
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
