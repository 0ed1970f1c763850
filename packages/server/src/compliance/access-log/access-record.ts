import { createHash } from 'node:crypto';
import type { Principal } from '../../identity/sessions/principal-resolver.ts';
import type { AccessLogTable } from '../../storage/tables.ts';
import { canonicalJson } from '../audit/audit-entry.ts';

/** What was read: a history page, search results, a file, realtime deliveries, an export download. */
export type AccessKind = AccessLogTable['kind'];

/**
 * Who read: a user with their session; operator staff under a support grant (`id` is the staff member's,
 * `grantId` the grant's, `sessionId` the staff session's); an API client.
 */
export interface AccessReader {
  type: AccessLogTable['reader_type'];
  id: string | null;
  grantId: string | null;
  sessionId: string | null;
}

/** One read to record: a dialog with a sequence range, or a file (attachment or export archive). */
export interface AccessRead {
  tenantId: string;
  reader: AccessReader;
  kind: AccessKind;
  dialogId?: string | undefined;
  fromSeq?: number | undefined;
  toSeq?: number | undefined;
  fileId?: string | undefined;
}

/** A row as it is chained: every column but `batch_seq` (the chain entry's seq, known after the append). */
export type UnbatchedAccessRow = Omit<AccessLogTable, 'batch_seq'>;

/** The action of the audit entry that chains one batch of access records. */
export const ACCESS_BATCH_ACTION = 'access_log.recorded';

/** The reader a request or socket acts as. */
export function readerOf(principal: Principal): AccessReader {
  if (principal.supportGrant)
    return {
      type: 'staff',
      id: principal.supportGrant.staffId,
      grantId: principal.supportGrant.id,
      sessionId: principal.sessionId,
    };
  if (principal.userId === null)
    return { type: 'client', id: principal.clientId, grantId: null, sessionId: principal.sessionId };
  return { type: 'user', id: principal.userId, grantId: null, sessionId: principal.sessionId };
}

/**
 * hex SHA-256 of a batch: the canonical JSON of its rows ordered by id, each with exactly the chained
 * columns. The batch's audit entry carries it, so changing, removing or adding a row changes the digest.
 */
export function batchDigest(rows: readonly UnbatchedAccessRow[]): string {
  const canonical = [...rows]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((row) => ({
      tenant_id: row.tenant_id,
      id: row.id,
      kind: row.kind,
      reader_type: row.reader_type,
      reader_id: row.reader_id,
      grant_id: row.grant_id,
      session_id: row.session_id,
      dialog_id: row.dialog_id,
      from_seq: row.from_seq,
      to_seq: row.to_seq,
      file_id: row.file_id,
      first_read_at: row.first_read_at,
      last_read_at: row.last_read_at,
    }));
  return createHash('sha256').update(canonicalJson(canonical)).digest('hex');
}

/** Sequence numbers as ranges of consecutive numbers: [3, 4, 5, 9] → [[3, 5], [9, 9]]. */
export function seqRanges(seqs: readonly number[]): [number, number][] {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const seq of sorted) {
    const last = ranges.at(-1);
    if (last && seq === last[1] + 1) last[1] = seq;
    else ranges.push([seq, seq]);
  }
  return ranges;
}

/** What the REST edges record reads with (the node's `AccessRecorder`). */
export interface ReadRecorder {
  record(read: AccessRead): void;
}

/**
 * Records the messages a response showed, one read per run of consecutive sequence numbers in each dialog
 * (a history page is one run; search results spread over dialogs are several). Nothing shown, nothing read.
 */
export function recordShownMessages(
  recorder: ReadRecorder | undefined,
  principal: Principal,
  kind: 'history' | 'search',
  shown: readonly { dialogId: string; seq: number }[],
): void {
  if (!recorder || shown.length === 0) return;
  const reader = readerOf(principal);
  const byDialog = new Map<string, number[]>();
  for (const { dialogId, seq } of shown) {
    const seqs = byDialog.get(dialogId);
    if (seqs) seqs.push(seq);
    else byDialog.set(dialogId, [seq]);
  }
  for (const [dialogId, seqs] of byDialog)
    for (const [fromSeq, toSeq] of seqRanges(seqs))
      recorder.record({ tenantId: principal.tenantId, reader, kind, dialogId, fromSeq, toSeq });
}

/** Records a file a response served: an attachment or an export archive. */
export function recordFileRead(
  recorder: ReadRecorder | undefined,
  principal: Principal,
  kind: 'attachment' | 'export',
  fileId: string,
): void {
  recorder?.record({ tenantId: principal.tenantId, reader: readerOf(principal), kind, fileId });
}
