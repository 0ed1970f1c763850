import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ensurePrivateDir } from '../bootstrap/data-dir.ts';

/** Raised when another server already serves the data directory; the CLI prints it and exits 1. */
export class DataDirLockedError extends Error {
  constructor(dataDir: string, holder: string | undefined) {
    super(
      `another Parley server is already using the data directory ${dataDir}${holder ? ` (${holder})` : ''}. ` +
        'Stop it first, or give this server its own PARLEY_DATA_DIR: on SQLite one server serves one data ' +
        'directory (several nodes share PostgreSQL instead).',
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  release(): void;
}

const LOCK_FILE = 'parley.lock';
/** Who holds the lock, for the refusal message only; the lock itself is the SQLite file lock. */
const OWNER_FILE = 'parley.lock.owner';

/**
 * Makes this process the only server on an SQLite data directory, for as long as it lives. The lock is an
 * exclusive transaction held open on a small SQLite file of its own (`parley.lock`), that is a POSIX record
 * lock, which the kernel drops when the process ends, however it ends: a server killed with SIGKILL leaves
 * no stale lock behind (unlike a pid file, whose pid may be reused or belong to another container). The
 * database itself is not locked exclusively: CLI commands and WAL readers beside the server keep working.
 *
 * Caveats of POSIX locks: they hold on local file systems (not reliably on NFS), and a process drops its own
 * lock when it closes any descriptor of the lock file: nothing else in the server may open `parley.lock`.
 */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  ensurePrivateDir(dataDir);
  const lockFile = path.join(dataDir, LOCK_FILE);
  const ownerFile = path.join(dataDir, OWNER_FILE);
  // Created 0600 before SQLite opens it (SQLite would create it 0644).
  writeFileSync(lockFile, '', { mode: 0o600, flag: 'a' });
  let database: Database.Database | undefined;
  try {
    database = new Database(lockFile, { timeout: 0 });
    database.pragma('locking_mode = EXCLUSIVE');
    database.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    database?.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      throw new DataDirLockedError(dataDir, readOwner(ownerFile));
    }
    throw error;
  }
  const held = database;
  writeFileSync(
    ownerFile,
    `${JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() })}\n`,
    { mode: 0o600 },
  );
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      rmSync(ownerFile, { force: true });
      held.close();
    },
  };
}

function readOwner(ownerFile: string): string | undefined {
  try {
    const owner = JSON.parse(readFileSync(ownerFile, 'utf8')) as {
      pid?: unknown;
      host?: unknown;
      since?: unknown;
    };
    return `pid ${String(owner.pid)} on ${String(owner.host)}, since ${String(owner.since)}`;
  } catch {
    return undefined;
  }
}
