import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ErasureBody } from '@parley/protocol';
import { sql } from 'kysely';
import pg from 'pg';
import { inject } from 'vitest';
import { bearer, json, memberPassword, type SignedIn, signIn } from '../../support/identity-fixtures.ts';
import type { TestServer } from '../../support/start-server.ts';

/** A random word no other data in the test holds: found anywhere, it leaked from the erased account. */
export const canary = (label: string) => `zq${label}${randomBytes(5).toString('hex')}`;

export interface CanaryUser {
  userId: string;
  token: string;
  refreshToken: string;
  dialogId: string;
  /** Strings only this user's profile, messages and files hold. */
  canaries: { name: string; email: string; message: string; fileName: string; fileContent: string };
  messageIds: string[];
  attachmentId: string;
}

/**
 * A member whose display name, e-mail address, messages, file name and file content each carry a canary;
 * in a group dialog with the owner, where the owner wrote too and the member reacted.
 */
export async function newCanaryUser(server: TestServer, owner: SignedIn): Promise<CanaryUser> {
  const canaries = {
    name: canary('name'),
    email: `${canary('mail')}@erased.example`,
    message: canary('message'),
    fileName: `${canary('file')}.txt`,
    fileContent: canary('content'),
  };
  const created = await server.request(
    '/v1/users',
    json(
      {
        displayName: `Dr ${canaries.name}`,
        email: canaries.email,
        password: memberPassword,
        roles: ['member'],
      },
      owner.accessToken,
    ),
  );
  if (created.status !== 201) throw new Error(`user creation failed: ${created.text}`);
  const userId = created.json<{ userId: string }>().userId;
  const tokens = await signIn(server, owner.tenantId, canaries.email, memberPassword, 'profile chat');
  const dialog = await server.request(
    '/v1/dialogs',
    json({ type: 'group', name: 'Ward rounds', memberIds: [userId] }, owner.accessToken),
  );
  if (dialog.status !== 201) throw new Error(`dialog creation failed: ${dialog.text}`);
  const dialogId = dialog.json<{ id: string }>().id;
  const upload = await server.request(`/v1/attachments?name=${encodeURIComponent(canaries.fileName)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.accessToken}`, 'content-type': 'text/plain' },
    body: `Notes: ${canaries.fileContent}`,
  });
  if (upload.status !== 201) throw new Error(`upload failed: ${upload.text}`);
  const attachmentId = upload.json<{ id: string }>().id;
  const messageIds: string[] = [];
  for (const [index, body] of [
    `About ${canaries.message} today`,
    `And ${canaries.message} again`,
  ].entries()) {
    const sent = await server.request(
      `/v1/dialogs/${dialogId}/messages`,
      json(
        { clientId: `c-${index}-${userId}`, body, ...(index === 0 ? { attachments: [attachmentId] } : {}) },
        tokens.accessToken,
      ),
    );
    if (sent.status !== 201) throw new Error(`send failed: ${sent.text}`);
    messageIds.push(sent.json<{ id: string }>().id);
  }
  const ownerMessage = await server.request(
    `/v1/dialogs/${dialogId}/messages`,
    json({ clientId: `owner-${userId}`, body: 'The owner’s own words stay.' }, owner.accessToken),
  );
  const ownerMessageId = ownerMessage.json<{ id: string }>().id;
  const reacted = await server.request(
    `/v1/dialogs/${dialogId}/messages/${ownerMessageId}/reactions/${encodeURIComponent('👍')}`,
    { method: 'PUT', headers: { authorization: `Bearer ${tokens.accessToken}` } },
  );
  if (reacted.status >= 300) throw new Error(`reaction failed: ${reacted.status} ${reacted.text}`);
  return {
    userId,
    token: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    dialogId,
    canaries,
    messageIds,
    attachmentId,
  };
}

/** Waits (bounded) until the user's latest erasure reaches `status`; the job runs on the server's poller. */
export async function erasureReaching(
  server: TestServer,
  adminToken: string,
  userId: string,
  status: ErasureBody['status'] = 'completed',
  timeoutMs = 60_000,
  pollMs = 100,
): Promise<ErasureBody> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const response = await server.request(`/v1/users/${userId}/erasure`, bearer(adminToken));
    const body = response.json<ErasureBody>();
    if (response.status === 200 && body.status === status) return body;
    if (Date.now() > until) throw new Error(`erasure did not reach ${status}: ${response.text}`);
    await sleep(pollMs);
  }
}

/** The strings of `needles` found in `haystack` (a file's bytes read as UTF-8, or text). */
export const foundIn = (haystack: string, needles: readonly string[]) =>
  needles.filter((needle) => haystack.includes(needle));

/** The SQLite database file and its WAL, as bytes read as text. */
export function sqliteFilesText(dataDir: string): string {
  return ['parley.db', 'parley.db-wal']
    .map((name) => path.join(dataDir, name))
    .filter((file) => existsSync(file))
    .map((file) => readFileSync(file).toString('latin1'))
    .join('\n');
}

/** Every value of every column of every table of the PostgreSQL schema, as text (a dump, without pg_dump). */
export async function postgresSchemaText(schema: string): Promise<string> {
  const client = new pg.Client({ connectionString: inject('postgresUrl') });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = $1 and table_type = 'BASE TABLE'`,
      [schema],
    );
    const parts: string[] = [];
    for (const { table_name } of tables.rows) {
      const rows = await client.query<{ row: string }>(
        `select t::text as row from ${schema}.${table_name} t`,
      );
      parts.push(...rows.rows.map((row) => row.row));
      // bytea columns print as hex in the row text: decode them so a plaintext inside would show.
      const binary = await client.query<{ column_name: string }>(
        `select column_name from information_schema.columns where table_schema = $1 and table_name = $2 and data_type = 'bytea'`,
        [schema, table_name],
      );
      for (const { column_name } of binary.rows) {
        const values = await client.query<{ value: Buffer | null }>(
          `select ${column_name} as value from ${schema}.${table_name}`,
        );
        parts.push(...values.rows.map((row) => row.value?.toString('latin1') ?? ''));
      }
    }
    return parts.join('\n');
  } finally {
    await client.end();
  }
}

/** A consistent copy of the server's database, taken while it runs: a file (SQLite) or a dump (PostgreSQL). */
export async function copyDatabase(server: TestServer): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-backup-'));
  if (server.app.storage.dialect === 'sqlite') {
    const file = path.join(dir, 'parley.db');
    await sql`vacuum into ${file}`.execute(server.app.storage.kysely);
    return file;
  }
  const file = path.join(dir, 'dump.sql');
  execFileSync('pg_dump', [
    '--no-owner',
    '--schema',
    server.database.schema ?? '',
    '--file',
    file,
    inject('postgresUrl'),
  ]);
  return file;
}

/**
 * A new data directory holding the server's master key and erasure register (kept outside the database, as
 * an operator keeps them) and, for SQLite, the copied database file; for PostgreSQL the dump is restored into
 * a new schema. Returns the environment to start a server on the restored copy.
 */
export function restoreCopy(
  server: TestServer,
  copy: string,
): { env: Record<string, string>; schema?: string } {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-restored-'));
  for (const name of ['master.key', 'erasures.log'])
    copyFileSync(path.join(server.database.dataDir, name), path.join(dataDir, name));
  if (server.app.storage.dialect === 'sqlite') {
    copyFileSync(copy, path.join(dataDir, 'parley.db'));
    return { env: { PARLEY_DATA_DIR: dataDir } };
  }
  const from = server.database.schema ?? '';
  const schema = `r_${randomBytes(6).toString('hex')}`;
  const dump = readFileSync(copy, 'utf8').replaceAll(from, schema);
  execFileSync('psql', ['--quiet', '--set', 'ON_ERROR_STOP=1', inject('postgresUrl')], { input: dump });
  return {
    env: {
      PARLEY_DATA_DIR: dataDir,
      DATABASE_URL: inject('postgresUrl'),
      PARLEY_DATABASE_SCHEMA: schema,
    },
    schema,
  };
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('postgresUrl') });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
}
