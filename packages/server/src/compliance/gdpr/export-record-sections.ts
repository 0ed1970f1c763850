import { Readable } from 'node:stream';
import type { AttachmentService } from '../../attachments/attachment-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ExportRequestLog } from './export-request-log.ts';
import { auditRecord } from './export-records.ts';
import {
  EXPORT_PAGE_SIZE,
  type ExportScope,
  type ExportSection,
  readCursor,
  type SectionDeps,
  type SectionPage,
} from './export-section.ts';
import { exportSourceStore as source } from './export-source-store.ts';
import { restrictionStore } from './restriction-store.ts';

/** Attachments per page, and the bytes of content after which a page stops taking more. */
const ATTACHMENTS_PER_PAGE = 50;
const ATTACHMENT_BYTES_PER_PAGE = 64 * 1024 * 1024;

export interface RecordSectionDeps extends SectionDeps {
  audit: Pick<AuditLog, 'query'>;
  attachments: Pick<AttachmentService, 'open'>;
  requests: Pick<ExportRequestLog, 'listFor'> | undefined;
}

/**
 * A safe file name inside the archive: no folders, no leading dots, no control characters, at most 100
 * characters; `file` when nothing is left. The uploader chose the name, so it must not steer extraction.
 */
export function archiveFileName(name: string): string {
  const unsafe = (char: string) =>
    char === '/' || char === '\\' || char.charCodeAt(0) < 0x20 || char === '\x7f';
  const cleaned = Array.from(name, (char) => (unsafe(char) ? '_' : char))
    .join('')
    .replace(/^\.+/, '')
    .trim()
    .slice(0, 100);
  return cleaned === '' ? 'file' : cleaned;
}

/** Audit entries the subject acted in, then those about them that someone else made. */
function auditSection(deps: RecordSectionDeps, scope: ExportScope): ExportSection {
  const { tenantId, subjectId, name } = scope;
  type AuditCursor = { pass: 'actor' | 'target'; after: string | null };
  return {
    name: 'audit',
    page: (cursor) =>
      deps.storage.withTenant(tenantId, async (tx): Promise<SectionPage> => {
        const at = readCursor<AuditCursor>(cursor, { pass: 'actor', after: null });
        const filter = at.pass === 'actor' ? { actorId: subjectId } : { targetId: subjectId };
        const page = await deps.audit.query(tx, tenantId, filter, {
          order: 'asc',
          limit: EXPORT_PAGE_SIZE,
          ...(at.after === null ? {} : { cursor: at.after }),
        });
        // The target pass skips what the actor pass took already.
        const entries =
          at.pass === 'actor' ? page.entries : page.entries.filter((entry) => entry.actor.id !== subjectId);
        const next: AuditCursor | null =
          page.nextCursor !== undefined
            ? { pass: at.pass, after: page.nextCursor }
            : at.pass === 'actor'
              ? { pass: 'target', after: null }
              : null;
        return {
          records: { audit: entries.map((entry) => auditRecord(entry, subjectId, name)) },
          next: next === null ? null : JSON.stringify(next),
        };
      }),
  };
}

/**
 * The subject's own uploads: a record each, and the content of those not removed, decrypted into
 * `files/<id>/<name>` as the job writes the part (read in short transactions, chunk by chunk).
 */
function attachmentSection(deps: RecordSectionDeps, scope: ExportScope): ExportSection {
  const { tenantId, subjectId } = scope;
  return {
    name: 'attachments',
    async page(cursor) {
      const rows = await deps.storage.withTenant(tenantId, (tx) =>
        source.attachments(tx, tenantId, subjectId, readCursor(cursor, ''), ATTACHMENTS_PER_PAGE),
      );
      const records = [];
      const files: NonNullable<SectionPage['files']> = [];
      let bytes = 0;
      let taken = 0;
      for (const row of rows) {
        if (taken > 0 && bytes >= ATTACHMENT_BYTES_PER_PAGE) break;
        taken += 1;
        if (row.status !== 'complete') {
          records.push({
            id: row.id,
            name: null,
            contentType: null,
            size: 0,
            status: 'removed',
            createdAt: new Date(row.created_at).toISOString(),
            file: null,
          });
          continue;
        }
        // Opened outside the read above: on SQLite a transaction inside another would wait on itself.
        const opened = await deps.attachments.open(tenantId, subjectId, row.id);
        const path = `files/${row.id}/${archiveFileName(opened.name)}`;
        bytes += opened.size;
        records.push({
          id: row.id,
          name: opened.name,
          contentType: opened.contentType,
          size: opened.size,
          status: 'complete',
          createdAt: new Date(row.created_at).toISOString(),
          file: path,
        });
        files.push({
          attachmentId: row.id,
          path,
          size: opened.size,
          stream: () => (opened.size === 0 ? Readable.from([]) : opened.read(0, opened.size - 1)),
        });
      }
      const last = rows[taken - 1];
      const more = taken < rows.length || rows.length === ATTACHMENTS_PER_PAGE;
      return {
        records: { attachments: records },
        files,
        next: more && last !== undefined ? JSON.stringify(last.id) : null,
      };
    },
  };
}

/** The data subject requests about the subject (few: not paged). */
function requestSection(deps: RecordSectionDeps, scope: ExportScope): ExportSection {
  return {
    name: 'requests',
    async page() {
      const records =
        deps.requests === undefined ? [] : await deps.requests.listFor(scope.tenantId, scope.subjectId);
      return { records: { requests: records }, next: null };
    },
  };
}

/** The periods of restricted processing of the subject's account, with their reasons (few: not paged). */
function restrictionSection(deps: RecordSectionDeps, scope: ExportScope): ExportSection {
  const { tenantId, subjectId, name } = scope;
  return {
    name: 'restrictions',
    page: () =>
      deps.storage.withTenant(tenantId, async (tx): Promise<SectionPage> => {
        const rows = await restrictionStore.history(tx, tenantId, subjectId);
        const open = (rowId: string, column: 'reason' | 'lift_reason', sealed: string) =>
          deps.fieldCipher.open(tx, { tenantId, table: 'user_restrictions', column, rowId }, sealed);
        const records = [];
        for (const row of rows.reverse())
          records.push({
            id: row.id,
            requestId: row.request_id,
            reason: await open(row.id, 'reason', row.reason),
            restrictedBy: name(row.restricted_by),
            restrictedAt: new Date(row.restricted_at).toISOString(),
            liftReason: row.lift_reason === null ? null : await open(row.id, 'lift_reason', row.lift_reason),
            liftedBy: row.lifted_by === null ? null : name(row.lifted_by),
            liftedAt: row.lifted_at === null ? null : new Date(row.lifted_at).toISOString(),
          });
        return { records: { restrictions: records }, next: null };
      }),
  };
}

/**
 * The sections of records kept about the subject: audit entries, uploads, data subject requests, restrictions
 * (last: a build resumed from a checkpoint counts its sections by position).
 */
export function recordSections(deps: RecordSectionDeps, scope: ExportScope): ExportSection[] {
  return [
    auditSection(deps, scope),
    attachmentSection(deps, scope),
    requestSection(deps, scope),
    restrictionSection(deps, scope),
  ];
}
