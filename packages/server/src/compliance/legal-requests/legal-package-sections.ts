import type { LegalScopeSpec } from '@parley/protocol';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import type { User } from '../../identity/user-service.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import { openMessage } from '../gdpr/export-records.ts';
import { EXPORT_PAGE_SIZE, readCursor } from '../gdpr/export-section.ts';
import { legalPackageStore as store, type MessageKey } from './legal-package-store.ts';

/** One page of a disclosure package's collection, and where the next starts (null: done). */
export interface LegalSectionPage {
  collection: 'accounts' | 'messages' | 'sessions';
  records: unknown[];
  next: string | null;
}

/** A collection of the package, read page by page from a cursor (null: from the start). */
export interface LegalSection {
  page(cursor: string | null): Promise<LegalSectionPage>;
}

export interface LegalSectionDeps {
  storage: Storage;
  fieldCipher: FieldCipher;
  users: { getUserIn(tx: TenantTx, tenantId: string, userId: string): Promise<User> };
}

const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());

/**
 * The sections of a package: exactly the approved scope's kinds, each selecting only records inside it
 * (legal-package-store.ts states the rule). People are named by their account ids: the order names them.
 */
export function legalSections(
  deps: LegalSectionDeps,
  tenantId: string,
  scope: LegalScopeSpec,
): LegalSection[] {
  const { storage, fieldCipher, users } = deps;
  const sections: LegalSection[] = [];
  if (scope.kinds.includes('account') && scope.userIds.length > 0)
    sections.push({
      page: () =>
        storage.withTenant(tenantId, async (tx) => {
          const records = [];
          for (const userId of scope.userIds) {
            const user = await users.getUserIn(tx, tenantId, userId).catch(() => undefined);
            if (user === undefined) continue;
            records.push({
              id: user.id,
              status: user.status,
              displayName: user.displayName,
              email: user.email,
              phone: user.phone,
              createdAt: user.createdAt,
            });
          }
          return { collection: 'accounts', records, next: null };
        }),
    });
  if (scope.kinds.includes('messages'))
    sections.push({
      page: (cursor) =>
        storage.withTenant(tenantId, async (tx) => {
          const after = readCursor<MessageKey>(cursor, { d: '', s: 0 });
          const rows = await store.messagesInScope(tx, tenantId, scope, after, EXPORT_PAGE_SIZE);
          const records = [];
          for (const row of rows) {
            const opened = await openMessage(tx, fieldCipher, row);
            records.push({
              id: row.id,
              dialogId: row.dialog_id,
              seq: row.seq,
              sender: row.sender_id,
              body: opened.body,
              properties: opened.properties,
              mentions: opened.mentions,
              replyTo: row.reply_to,
              createdAt: iso(row.created_at),
              editedAt: iso(row.edited_at),
            });
          }
          const last = rows.at(-1);
          return {
            collection: 'messages',
            records,
            next:
              rows.length < EXPORT_PAGE_SIZE || last === undefined
                ? null
                : JSON.stringify({ d: last.dialog_id, s: last.seq } satisfies MessageKey),
          };
        }),
    });
  if (scope.kinds.includes('sessions') && scope.userIds.length > 0)
    sections.push({
      page: () =>
        storage.withTenant(tenantId, async (tx) => ({
          collection: 'sessions',
          records: (await store.sessionsInScope(tx, tenantId, scope)).map((row) => ({
            id: row.id,
            userId: row.user_id,
            clientId: row.client_id,
            createdAt: iso(row.created_at),
            lastUsedAt: iso(row.last_used_at),
            revokedAt: iso(row.revoked_at),
          })),
          next: null,
        })),
    });
  return sections;
}
