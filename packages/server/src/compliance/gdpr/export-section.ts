import type { ExportCollection, ExportOthersMessagesPolicy } from '@parley/protocol';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import type { Storage } from '../../storage/database.ts';
import type { ArchiveEntry } from './export-archive-writer.ts';
import type { NamePerson } from './export-people.ts';

/** Records per page of a collection (and rows read per query). */
export const EXPORT_PAGE_SIZE = 500;

/** Who and what one export covers, and how it names people. */
export interface ExportScope {
  tenantId: string;
  subjectId: string;
  policy: ExportOthersMessagesPolicy;
  name: NamePerson;
}

/**
 * One step of a section: the records it read (a page of messages feeds several collections: sent, received,
 * reactions, hidden), single documents (`profile.json`), files (attachments), and where the next step
 * starts, or null when the section is done. The cursor holds ids and sequence numbers only: it is stored
 * in the job's checkpoint, which operators can read.
 */
export interface SectionPage {
  records: Partial<Record<ExportCollection, unknown[]>>;
  documents?: { name: string; content: unknown }[];
  files?: (ArchiveEntry & { attachmentId: string })[];
  next: string | null;
}

/** A part of the archive, read page by page from a cursor (null: from the start). */
export interface ExportSection {
  readonly name: string;
  page(cursor: string | null): Promise<SectionPage>;
}

export interface SectionDeps {
  storage: Storage;
  fieldCipher: FieldCipher;
}

/** A cursor as stored, or `fallback` at the start. */
export function readCursor<T>(cursor: string | null, fallback: T): T {
  return cursor === null ? fallback : (JSON.parse(cursor) as T);
}
