import { randomBytes } from 'node:crypto';
import type { FieldCipher, FieldLocation } from '../../crypto/field-cipher.ts';
import { STREAM_KEY_SIZE } from '../../crypto/stream-cipher.ts';
import type { TenantTx } from '../../storage/database.ts';

/**
 * An export archive has a key of its own, sealed with the tenant key in `data_exports.archive_key`:
 * destroying the archive deletes the key with the parts, so a copy of the parts (a backup) is unreadable.
 */
const archiveKeyLocation = (tenantId: string, exportId: string): FieldLocation => ({
  tenantId,
  table: 'data_exports',
  column: 'archive_key',
  rowId: exportId,
});

/** The stream cipher's associated data: a part opens only as this part of this export of this tenant. */
export const partContext = (tenantId: string, exportId: string, part: number): Buffer =>
  Buffer.from(`parley/v1/export/${tenantId}/${exportId}/part/${part}`, 'utf8');

/** A fresh archive key and its sealed form, for a new export's row. */
export async function newArchiveKey(
  tx: TenantTx,
  fieldCipher: FieldCipher,
  tenantId: string,
  exportId: string,
): Promise<string> {
  const key = randomBytes(STREAM_KEY_SIZE).toString('base64');
  return fieldCipher.sealForTenant(tx, archiveKeyLocation(tenantId, exportId), key);
}

export async function openArchiveKey(
  tx: TenantTx,
  fieldCipher: FieldCipher,
  tenantId: string,
  exportId: string,
  sealed: string,
): Promise<Buffer> {
  return Buffer.from(await fieldCipher.open(tx, archiveKeyLocation(tenantId, exportId), sealed), 'base64');
}
