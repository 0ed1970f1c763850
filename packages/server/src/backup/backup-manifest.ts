import { randomBytes, sign, verify } from 'node:crypto';
import { z } from 'zod';
import { BackupError } from './backup-error.ts';
import type { BackupKey } from './backup-key.ts';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'parley-backup/1';

export type BackupKind = 'full' | 'incremental';

/** `20261207T030000123Z-full-1a2b3c4d`: sorts by creation time, says its kind, unique without a lookup. */
export const BACKUP_ID = /^\d{8}T\d{9}Z-(full|incremental)-[0-9a-f]{8}$/;

export function newBackupId(kind: BackupKind, at: number): string {
  const stamp = new Date(at).toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${kind}-${randomBytes(4).toString('hex')}`;
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

const manifestBodySchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  id: z.string().regex(BACKUP_ID),
  kind: z.enum(['full', 'incremental']),
  /** The id of the full backup the chain starts with (its own id for a full backup). */
  chainId: z.string().regex(BACKUP_ID),
  /** The backup this one holds the changes since; null for a full backup. */
  parentId: z.string().regex(BACKUP_ID).nullable(),
  createdAt: z.iso.datetime(),
  dialect: z.literal('sqlite'),
  parleyVersion: z.string(),
  /** The realtime stream epoch of the database at the backup point (a restore writes a new one). */
  databaseEpoch: z.string(),
  pageSize: z.number().int().positive(),
  pageCount: z.number().int().nonnegative(),
  /** Pages the backup holds: every page for a full backup, the changed ones for an incremental. */
  storedPages: z.number().int().nonnegative(),
  /** SHA-256 of the whole database file at the backup point, so a restore proves it rebuilt exactly it. */
  databaseSha256: sha256Hex,
  /** Fingerprint of the backup key the files are encrypted and this manifest is signed under. */
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  files: z
    .array(
      z.object({ name: z.string().regex(/^[a-z]+\.[a-z]+$/), bytes: z.number().int(), sha256: sha256Hex }),
    )
    .min(1),
});

export type ManifestBody = z.infer<typeof manifestBodySchema>;

const manifestFileSchema = z.object({ body: manifestBodySchema, signature: z.string().min(1) });

/** The bytes signed: the body as JSON, keys in the order the schema declares them. */
function signedBytes(body: ManifestBody): Buffer {
  return Buffer.from(`${MANIFEST_FORMAT}\n${JSON.stringify(manifestBodySchema.parse(body))}`, 'utf8');
}

export function serializeManifest(body: ManifestBody, key: BackupKey): string {
  const signature = sign(null, signedBytes(body), key.signingKey).toString('base64');
  return `${JSON.stringify({ body, signature }, null, 2)}\n`;
}

/**
 * Parses a manifest without checking its signature (listing needs no key). A manifest that does not parse
 * is corrupt: `verifyManifest` is what a restore or verification relies on.
 */
export function parseManifest(text: string, backupId: string): { body: ManifestBody; signature: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BackupError('backup_corrupt', `backup ${backupId}: the manifest is not valid JSON`);
  }
  const parsed = manifestFileSchema.safeParse(raw);
  if (!parsed.success || parsed.data.body.id !== backupId) {
    throw new BackupError('backup_corrupt', `backup ${backupId}: the manifest is malformed`);
  }
  return parsed.data;
}

/** Throws unless `signature` is the backup key's Ed25519 signature over `body`. */
export function verifyManifest(manifest: { body: ManifestBody; signature: string }, key: BackupKey): void {
  const ok = verify(
    null,
    signedBytes(manifest.body),
    key.verifyKey,
    Buffer.from(manifest.signature, 'base64'),
  );
  if (!ok) {
    throw new BackupError(
      'backup_corrupt',
      `backup ${manifest.body.id}: the manifest signature does not verify under backup key ${key.id}`,
    );
  }
}
