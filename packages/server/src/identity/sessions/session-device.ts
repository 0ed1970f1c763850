import type { FieldCipher, FieldLocation } from '../../crypto/field-cipher.ts';
import type { TenantTx } from '../../storage/database.ts';

/** Where a session was opened from: personal data, sealed with the tenant key. */
export interface SessionDevice {
  userAgent?: string | undefined;
  ip?: string | undefined;
}

// The location is bound into the ciphertext, so sealing and opening must name the same cell: one helper.
const deviceLocation = (tenantId: string, sessionId: string): FieldLocation => ({
  tenantId,
  table: 'sessions',
  column: 'device',
  rowId: sessionId,
});

/** Seals a new session's device for its `device` column. */
export async function sealDevice(
  fieldCipher: FieldCipher,
  tx: TenantTx,
  tenantId: string,
  sessionId: string,
  device: SessionDevice,
): Promise<string> {
  return fieldCipher.sealForTenant(tx, deviceLocation(tenantId, sessionId), JSON.stringify(device));
}

/** Opens a session's sealed `device` column. */
export async function openDevice(
  fieldCipher: FieldCipher,
  tx: TenantTx,
  tenantId: string,
  sessionId: string,
  sealed: string,
): Promise<SessionDevice> {
  return JSON.parse(await fieldCipher.open(tx, deviceLocation(tenantId, sessionId), sealed)) as SessionDevice;
}
