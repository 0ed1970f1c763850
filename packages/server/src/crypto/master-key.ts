import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ensurePrivateDir, writeSecretFile } from '../bootstrap/data-dir.ts';

/** Thrown when the master key is missing, malformed or does not match the database. Start-up stops. */
export class MasterKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

const keyFileSchema = z.object({
  format: z.literal('parley-master-key/1'),
  keys: z
    .array(
      z.object({
        version: z.number().int().positive(),
        createdAt: z.string(),
        key: z
          .string()
          .refine((value) => Buffer.from(value, 'base64').length === 32, 'must be 32 bytes (base64)'),
      }),
    )
    .min(1),
});
type KeyFile = z.infer<typeof keyFileSchema>;

export interface MasterKeyVersion {
  version: number;
  createdAt: string;
  key: Buffer;
}

/**
 * The key-encryption keys, by version. The highest version wraps new keys; older versions stay until
 * nothing in the database refers to them.
 */
export interface MasterKeySet {
  readonly source: 'file' | 'environment';
  readonly versions: readonly MasterKeyVersion[];
  readonly active: MasterKeyVersion;
  get(version: number): MasterKeyVersion | undefined;
}

function toKeySet(file: KeyFile, source: MasterKeySet['source']): MasterKeySet {
  const versions = file.keys
    .map((entry) => ({
      version: entry.version,
      createdAt: entry.createdAt,
      key: Buffer.from(entry.key, 'base64'),
    }))
    .sort((a, b) => a.version - b.version);
  const active = versions.at(-1);
  if (!active) throw new MasterKeyError('master key file holds no keys');
  return { source, versions, active, get: (version) => versions.find((entry) => entry.version === version) };
}

/**
 * `PARLEY_MASTER_KEY` holds either one base64 key (version 1) or `VERSION:BASE64` pairs separated by commas,
 * for operators who keep the key in a secret manager rather than on disk.
 */
function parseEnvironmentKey(value: string): KeyFile {
  const entries = value.split(',').map((part, index) => {
    const [maybeVersion, maybeKey] = part.includes(':') ? part.split(':', 2) : [String(index + 1), part];
    return { version: Number(maybeVersion), createdAt: 'unknown', key: (maybeKey ?? '').trim() };
  });
  const parsed = keyFileSchema.safeParse({ format: 'parley-master-key/1', keys: entries });
  if (!parsed.success)
    throw new MasterKeyError(`PARLEY_MASTER_KEY is malformed: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export function readMasterKeys(file: string, environmentValue: string | undefined): MasterKeySet | undefined {
  if (environmentValue) return toKeySet(parseEnvironmentKey(environmentValue), 'environment');
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new MasterKeyError(`master key file ${file} is not valid JSON`);
  }
  const parsed = keyFileSchema.safeParse(raw);
  if (!parsed.success) throw new MasterKeyError(`master key file ${file} is malformed`);
  return toKeySet(parsed.data, 'file');
}

function newVersion(version: number): KeyFile['keys'][number] {
  return { version, createdAt: new Date().toISOString(), key: randomBytes(32).toString('base64') };
}

const serialize = (file: KeyFile) => `${JSON.stringify(file, null, 2)}\n`;

/** Creates the file with one fresh 256-bit key (mode 0600); refuses to overwrite. */
export function generateMasterKeyFile(file: string): MasterKeySet {
  ensurePrivateDir(path.dirname(file));
  const contents: KeyFile = { format: 'parley-master-key/1', keys: [newVersion(1)] };
  if (!writeSecretFile(file, serialize(contents)))
    throw new MasterKeyError(`master key file ${file} already exists`);
  return toKeySet(contents, 'file');
}

/** Adds the next version to the file atomically (write aside, rename), keeping every older version. */
export function addMasterKeyVersion(file: string, current: MasterKeySet): MasterKeySet {
  const contents: KeyFile = {
    format: 'parley-master-key/1',
    keys: [
      ...current.versions.map((entry) => ({
        version: entry.version,
        createdAt: entry.createdAt,
        key: entry.key.toString('base64'),
      })),
      newVersion(current.active.version + 1),
    ],
  };
  const temporary = `${file}.${process.pid}.tmp`;
  writeSecretFile(temporary, serialize(contents));
  renameSync(temporary, file);
  return toKeySet(contents, 'file');
}
