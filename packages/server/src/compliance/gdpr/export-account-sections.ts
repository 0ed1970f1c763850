import { JobError } from '../../jobs/index.ts';
import type { TenantTx } from '../../storage/database.ts';
import { callRecord, dialogRecord, profileRecord, sessionRecord } from './export-records.ts';
import {
  EXPORT_PAGE_SIZE,
  type ExportScope,
  type ExportSection,
  readCursor,
  type SectionDeps,
  type SectionPage,
} from './export-section.ts';
import { exportSourceStore as source } from './export-source-store.ts';

const iso = (at: number) => new Date(at).toISOString();

/** The next cursor after a page keyed by `key`: null once a page came back short. */
const after = <T>(rows: readonly T[], key: (row: T) => string): string | null => {
  const last = rows.at(-1);
  return rows.length < EXPORT_PAGE_SIZE || last === undefined ? null : JSON.stringify(key(last));
};

/**
 * The sections about the account itself: profile and settings, consents, sessions, dialogs with the
 * subject's membership and receipts, blocks, calls.
 */
export function accountSections(deps: SectionDeps, scope: ExportScope): ExportSection[] {
  const { storage, fieldCipher } = deps;
  const { tenantId, subjectId, name } = scope;
  const read = <T>(work: (tx: TenantTx) => Promise<T>) => storage.withTenant(tenantId, work);

  return [
    {
      name: 'profile',
      page: () =>
        read(async (tx): Promise<SectionPage> => {
          const row = await source.user(tx, tenantId, subjectId);
          if (!row) throw new JobError('subject_not_found', 'the user of this export no longer exists');
          const profile = await profileRecord(
            tx,
            fieldCipher,
            row,
            await source.roles(tx, tenantId, subjectId),
          );
          const settings = { presenceVisibility: row.presence_visibility ?? 'everyone' };
          return {
            records: {},
            documents: [
              { name: 'profile.json', content: profile },
              { name: 'settings.json', content: settings },
            ],
            next: null,
          };
        }),
    },
    {
      name: 'consent-states',
      page: () =>
        read(async (tx): Promise<SectionPage> => {
          const rows = await source.consentStates(tx, tenantId, subjectId);
          const records = rows.map((row) => ({
            purposeKey: row.purpose_key,
            version: row.version,
            granted: row.granted === 1,
            changedAt: iso(row.changed_at),
          }));
          return { records: { 'consent-states': records }, next: null };
        }),
    },
    {
      name: 'consent-ledger',
      page: (cursor) =>
        read(async (tx): Promise<SectionPage> => {
          const rows = await source.consentLedger(
            tx,
            tenantId,
            subjectId,
            readCursor(cursor, ''),
            EXPORT_PAGE_SIZE,
          );
          const records = rows.map((row) => ({
            id: row.id,
            purposeKey: row.purpose_key,
            version: row.version,
            textHash: row.text_hash,
            action: row.action,
            source: row.source,
            at: iso(row.at),
          }));
          return { records: { 'consent-ledger': records }, next: after(rows, (row) => row.id) };
        }),
    },
    {
      name: 'sessions',
      page: (cursor) =>
        read(async (tx): Promise<SectionPage> => {
          const rows = await source.sessions(
            tx,
            tenantId,
            subjectId,
            readCursor(cursor, ''),
            EXPORT_PAGE_SIZE,
          );
          const records = [];
          for (const row of rows) records.push(await sessionRecord(tx, fieldCipher, tenantId, row));
          return { records: { sessions: records }, next: after(rows, (row) => row.id) };
        }),
    },
    {
      name: 'dialogs',
      page: (cursor) =>
        read(async (tx): Promise<SectionPage> => {
          const rows = await source.memberships(
            tx,
            tenantId,
            subjectId,
            readCursor(cursor, ''),
            EXPORT_PAGE_SIZE,
          );
          const dialogs = [];
          for (const row of rows) dialogs.push(await dialogRecord(tx, fieldCipher, row, subjectId, name));
          const receipts = rows.map((row) => ({
            dialogId: row.id,
            readSeq: row.read_seq,
            deliveredSeq: row.delivered_seq,
          }));
          return { records: { dialogs, receipts }, next: after(rows, (row) => row.id) };
        }),
    },
    {
      name: 'blocks',
      page: (cursor) =>
        read(async (tx): Promise<SectionPage> => {
          const rows = await source.blocks(tx, tenantId, subjectId, readCursor(cursor, ''), EXPORT_PAGE_SIZE);
          const records = rows.map((row) => ({
            blocked: name(row.blocked_id),
            createdAt: iso(row.created_at),
          }));
          return { records: { blocks: records }, next: after(rows, (row) => row.blocked_id) };
        }),
    },
    {
      name: 'calls',
      page: (cursor) =>
        read(async (tx): Promise<SectionPage> => {
          const rows = await source.calls(tx, tenantId, subjectId, readCursor(cursor, ''), EXPORT_PAGE_SIZE);
          const participants = new Map<string, string[]>();
          const callIds = rows.map((row) => row.id);
          for (const row of await source.callParticipants(tx, tenantId, callIds)) {
            const list = participants.get(row.call_id) ?? [];
            list.push(row.user_id);
            participants.set(row.call_id, list);
          }
          const records = rows.map((row) => callRecord(row, participants.get(row.id) ?? [], name));
          return { records: { calls: records }, next: after(rows, (row) => row.id) };
        }),
    },
  ];
}
