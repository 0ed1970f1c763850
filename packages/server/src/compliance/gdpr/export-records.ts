import type { z } from 'zod';
import type {
  exportAuditEntry,
  exportCall,
  exportDialog,
  exportProfile,
  exportSession,
} from '@parley/protocol';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import { openDevice } from '../../identity/sessions/session-device.ts';
import { messageLocation } from '../../messaging/message-presenter.ts';
import type { TenantTx } from '../../storage/database.ts';
import type { MessagesTable, UsersTable } from '../../storage/tables.ts';
import type { AuditEntryView } from '../audit/audit-log.ts';
import type { NamePerson } from './export-people.ts';
import type { CallRowWithPart, MembershipRow, SessionSourceRow } from './export-source-store.ts';

/**
 * Rows as archive records (export-archive.ts in the protocol): an explicit field list each, sealed fields
 * opened, secrets (password and token hashes, second-factor secrets) never read, and people other than the
 * subject named as the archive's policy says.
 */

const iso = (at: number) => new Date(at).toISOString();
const isoOrNull = (at: number | null | undefined) => (at == null ? null : iso(at));

export async function profileRecord(
  tx: TenantTx,
  fieldCipher: FieldCipher,
  row: UsersTable,
  roles: string[],
): Promise<z.infer<typeof exportProfile>> {
  const open = (
    column: 'display_name' | 'email' | 'phone' | 'profile' | 'avatar_url',
    envelope: string | null | undefined,
  ) =>
    envelope == null
      ? Promise.resolve(null)
      : fieldCipher.open(
          tx,
          { tenantId: row.tenant_id, table: 'users', column, rowId: row.id },
          envelope,
          row.id,
        );
  const profile = await open('profile', row.profile);
  return {
    id: row.id,
    tenantId: row.tenant_id,
    status: row.status,
    displayName: await open('display_name', row.display_name),
    email: await open('email', row.email),
    emailVerifiedAt: isoOrNull(row.email_verified_at),
    phone: await open('phone', row.phone),
    profile: profile === null ? null : (JSON.parse(profile) as Record<string, unknown>),
    avatarUrl: await open('avatar_url', row.avatar_url),
    roles,
    mfaEnabled: row.totp_enabled_at != null,
    passwordChangedAt: isoOrNull(row.password_changed_at),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    lastActiveAt: isoOrNull(row.last_active_at),
  };
}

export async function sessionRecord(
  tx: TenantTx,
  fieldCipher: FieldCipher,
  tenantId: string,
  row: SessionSourceRow,
): Promise<z.infer<typeof exportSession>> {
  const device = row.device === null ? {} : await openDevice(fieldCipher, tx, tenantId, row.id, row.device);
  return {
    id: row.id,
    clientId: row.client_id,
    scopes: row.scopes.split(' ').filter(Boolean),
    userAgent: device.userAgent ?? null,
    ip: device.ip ?? null,
    createdAt: iso(row.created_at),
    lastUsedAt: iso(row.last_used_at),
    accessExpiresAt: iso(row.access_expires_at),
    refreshExpiresAt: isoOrNull(row.refresh_expires_at),
    revokedAt: isoOrNull(row.revoked_at),
    revokedReason: row.revoked_reason,
  };
}

export async function dialogRecord(
  tx: TenantTx,
  fieldCipher: FieldCipher,
  row: MembershipRow,
  subjectId: string,
  name: NamePerson,
): Promise<z.infer<typeof exportDialog>> {
  const open = (column: 'name' | 'description', envelope: string | null) =>
    envelope === null
      ? Promise.resolve(null)
      : fieldCipher.open(tx, { tenantId: row.tenant_id, table: 'dialogs', column, rowId: row.id }, envelope);
  const partner = row.pair_key?.split(':').find((id) => id !== subjectId);
  return {
    id: row.id,
    type: row.type,
    name: await open('name', row.name),
    description: await open('description', row.description),
    createdBy: name(row.created_by),
    partner: partner === undefined ? null : name(partner),
    createdAt: iso(row.created_at),
    deletedAt: isoOrNull(row.deleted_at),
    membership: {
      role: row.role,
      joinedAt: iso(row.joined_at),
      leftAt: isoOrNull(row.left_at),
      joinedSeq: row.joined_seq,
      clearedSeq: row.cleared_seq,
      muted: row.muted === 1,
      pinned: row.pinned === 1,
    },
  };
}

/** A message's sealed body and properties, opened; null once it was deleted for everyone. */
export async function openMessage(tx: TenantTx, fieldCipher: FieldCipher, row: MessagesTable) {
  const open = (column: 'body' | 'properties', envelope: string | null) =>
    row.deleted_at !== null || envelope === null
      ? Promise.resolve(null)
      : fieldCipher.open(tx, messageLocation(row, column), envelope);
  const properties = await open('properties', row.properties);
  return {
    body: await open('body', row.body),
    properties: properties === null ? null : (JSON.parse(properties) as Record<string, unknown>),
    mentions: JSON.parse(row.mentions) as string[],
  };
}

export function callRecord(
  row: CallRowWithPart,
  participants: readonly string[],
  name: NamePerson,
): z.infer<typeof exportCall> {
  return {
    id: row.id,
    dialogId: row.dialog_id,
    caller: name(row.caller_id),
    media: row.media,
    state: row.state,
    outcome: row.outcome,
    participants: participants.map(name),
    createdAt: iso(row.created_at),
    answeredAt: isoOrNull(row.answered_at),
    endedAt: isoOrNull(row.ended_at),
    participation: {
      state: row.own_state,
      deviceId: row.own_device_id,
      joinedAt: isoOrNull(row.own_joined_at),
      leftAt: isoOrNull(row.own_left_at),
    },
  };
}

/**
 * An audit entry about the subject. Where the subject acted, the IP address and user agent are theirs and
 * included; where someone else acted, they are that person's and left out.
 */
export function auditRecord(
  entry: AuditEntryView,
  subjectId: string,
  name: NamePerson,
): z.infer<typeof exportAuditEntry> {
  const own = entry.actor.type === 'user' && entry.actor.id === subjectId;
  const person = (id: string | null) => (id === null ? null : name(id));
  return {
    id: entry.id,
    seq: entry.seq,
    occurredAt: entry.occurredAt,
    actor: {
      type: entry.actor.type,
      id: entry.actor.type === 'user' ? person(entry.actor.id) : entry.actor.id,
    },
    action: entry.action,
    target:
      entry.target === null
        ? null
        : {
            type: entry.target.type,
            id: entry.target.type === 'user' ? person(entry.target.id) : entry.target.id,
          },
    outcome: entry.outcome,
    ip: own ? entry.ip : null,
    userAgent: own ? entry.userAgent : null,
    details: entry.details,
  };
}
