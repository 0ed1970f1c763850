import type { DataExportProgress } from '@parley/protocol';
import { z } from 'zod';
import type { ExportRow } from './export-store.ts';

/**
 * The sections of an export, in the order the job builds them (export-job.ts checks its list against this
 * one before it starts). A checkpoint names its section by position, so the order is part of the stored
 * progress: new sections go last.
 */
export const EXPORT_SECTION_NAMES = [
  'profile',
  'consent-states',
  'consent-ledger',
  'sessions',
  'dialogs',
  'blocks',
  'calls',
  'messages',
  'audit',
  'attachments',
  'requests',
  'restrictions',
] as const;

/** The one part of the job's checkpoint progress needs: the section it goes on from. */
const checkpointSection = z.object({ section: z.number().int().min(0) });

/**
 * How far an export's build has gone, from its row and its job's checkpoint (the stored JSON, null before
 * the first one): sections done of all of them while queued or running, all of them once ready, null when
 * it failed or was destroyed (nothing is being built, and nothing is left to count).
 */
export function exportProgress(row: ExportRow, checkpoint: string | null): DataExportProgress | null {
  const sectionsTotal = EXPORT_SECTION_NAMES.length;
  switch (row.status) {
    case 'failed':
    case 'destroyed':
      return null;
    case 'ready':
      return { section: null, sectionsDone: sectionsTotal, sectionsTotal };
    case 'queued':
      return { section: null, sectionsDone: 0, sectionsTotal };
    case 'running': {
      const parsed = checkpoint === null ? undefined : checkpointSection.safeParse(JSON.parse(checkpoint));
      const sectionsDone = Math.min(parsed?.success === true ? parsed.data.section : 0, sectionsTotal);
      return { section: EXPORT_SECTION_NAMES[sectionsDone] ?? null, sectionsDone, sectionsTotal };
    }
  }
}
