import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../../src/clock.ts';
import { systemClock } from '../../src/clock.ts';
import { type BackupService, createBackupService } from '../../src/backup/backup-service.ts';
import { openBackupKeys, type BackupKeySet } from '../../src/backup/backup-key.ts';
import { json } from '../support/identity-fixtures.ts';
import type { TestServer } from '../support/start-server.ts';

/** A quiet test server: no alert ticks, no audit checkpoint timer, no scheduled backups of its own. */
export const QUIET = {
  PARLEY_ALERTS: 'false',
  PARLEY_BACKUPS: 'false',
  PARLEY_AUDIT_CHECKPOINT_INTERVAL_SECONDS: '0',
  PARLEY_JOB_POLL_INTERVAL_MS: '100',
};

const made: string[] = [];

/** A fresh temporary directory, removed by `removeTempDirs` when the test file ends. */
export function tempDir(label: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `parley-${label}-`));
  made.push(dir);
  return dir;
}

/** Removes every directory `tempDir` made (backups, keys, restores). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface BackupPlace {
  backupDir: string;
  keyFile: string;
  service: BackupService;
  keys(): BackupKeySet;
}

/** A backup service of the server's database, writing into a fresh backup dir under a fresh key. */
export function backupPlace(
  server: TestServer,
  clock: Clock = systemClock,
  backupDir = tempDir('backups'),
): BackupPlace {
  const keyFile = path.join(tempDir('backup-key'), 'backup.key');
  const service = createBackupService({
    databaseFile: path.join(server.database.dataDir, 'parley.db'),
    workDir: path.join(server.database.dataDir, '.backup-work'),
    backupDir,
    keyFile,
    retentionDays: 90,
    clock,
    storage: server.app.storage,
  });
  return { backupDir, keyFile, service, keys: () => openBackupKeys(keyFile, { generate: false }) };
}

/**
 * Row count and a content hash of every table of an SQLite database file (virtual tables are covered by
 * their shadow tables), read on a connection of its own. Rows are compared as a sorted multiset, so the
 * hash does not depend on the order SQLite returns them in.
 */
export function tableDigests(
  file: string,
  skip: readonly string[] = [],
): Record<string, { rows: number; sha256: string }> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare(
        "select name from sqlite_master where type = 'table' and sql not like 'CREATE VIRTUAL%' order by name",
      )
      .all() as { name: string }[];
    const digests: Record<string, { rows: number; sha256: string }> = {};
    for (const { name } of tables) {
      if (skip.includes(name)) continue;
      const rows = (db.prepare(`select * from "${name}"`).all() as Record<string, unknown>[])
        .map((row) =>
          JSON.stringify(row, (_key, value: unknown) =>
            Buffer.isBuffer(value) ? value.toString('hex') : value,
          ),
        )
        .sort();
      digests[name] = {
        rows: rows.length,
        sha256: createHash('sha256').update(rows.join('\n')).digest('hex'),
      };
    }
    return digests;
  } finally {
    db.close();
  }
}

/** The `parley_meta` rows of a database file. */
export function metaOf(file: string): Record<string, string> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('select key, value from parley_meta').all() as { key: string; value: string }[];
    return Object.fromEntries(rows.map((row) => [row.key, row.value]));
  } finally {
    db.close();
  }
}

/** The messages (id and seq) of one dialog in a database file. */
export function dialogMessages(file: string, dialogId: string): { id: string; seq: number }[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('select id, seq from messages where dialog_id = ? order by seq').all(dialogId) as {
      id: string;
      seq: number;
    }[];
  } finally {
    db.close();
  }
}

/** Flips one bit of the byte in the middle of `file`. */
export function flipByte(file: string): void {
  const bytes = readFileSync(file);
  const at = Math.floor(bytes.length / 2);
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  writeFileSync(file, bytes);
}

/** Sends one message over REST; answers its id once acknowledged. */
export async function send(
  server: TestServer,
  token: string,
  dialogId: string,
  body: string,
): Promise<string> {
  const sent = await server.request(
    `/v1/dialogs/${dialogId}/messages`,
    json({ clientId: `c-${randomUUID()}`, body }, token),
  );
  if (sent.status !== 201) throw new Error(`send failed: ${sent.status} ${sent.text}`);
  return sent.json<{ id: string }>().id;
}

export interface Ack {
  id: string;
  /** performance.now() when the request was sent and when its ack arrived. */
  sentAt: number;
  ackedAt: number;
}

/**
 * `senders` loops sending messages until `stop()`; answers every ack with its timing. Any failed send
 * fails the loop (a backup must not make a send fail).
 */
export function sendContinuously(server: TestServer, token: string, dialogId: string, senders = 4) {
  const acks: Ack[] = [];
  let running = true;
  let counter = 0;
  const loops = Array.from({ length: senders }, async () => {
    while (running) {
      const sentAt = performance.now();
      const id = await send(
        server,
        token,
        dialogId,
        `load-${counter++}-${Math.random().toString(36).slice(2)}`,
      );
      acks.push({ id, sentAt, ackedAt: performance.now() });
    }
  });
  return {
    acks,
    async stop(): Promise<Ack[]> {
      running = false;
      await Promise.all(loops);
      return acks;
    },
  };
}
