import type { FieldCipher } from '../../crypto/field-cipher.ts';
import type { Storage } from '../../storage/database.ts';
import type { IndexedMessage, MessageIndex } from '../message-index.ts';
import { messageLocation } from '../message-presenter.ts';
import { searchStore } from './search-store.ts';

/** What one tenant's re-index did: counts only, never content. */
export interface ReindexReport {
  tenantId: string;
  /** Visible messages found without an index entry (with `rebuild`: all visible messages). */
  examined: number;
  /** Of those, now indexed. */
  indexed: number;
  /** Of those, without a word to index (they stay without an entry, and are found missing again). */
  withoutWords: number;
  /** Transactions used (one per batch). */
  batches: number;
}

/**
 * Catches the search index up with the messages: indexes every visible message (not deleted, in a dialog
 * not deleted) that has no entry — messages stored before the search migration (0007), or whose entry was
 * lost. One short transaction per batch of messages, walked in id order, so no lock is held for long and a
 * running server keeps sending. Idempotent: a message that has an entry is never touched, so a second run,
 * or a run after an interrupted one, indexes only what is still missing.
 */
export function createSearchReindex(deps: {
  storage: Storage;
  index: MessageIndex;
  fieldCipher: FieldCipher;
}) {
  const { storage, index, fieldCipher } = deps;

  /**
   * `rebuild` re-indexes every visible message, entry or not (after a change of what the index holds, such
   * as word beginnings for prefix search): each batch replaces its messages' entries in one transaction, so
   * search never misses a message, and a run can be repeated or resumed (it re-does the work, same result).
   */
  return async function reindexTenant(
    tenantId: string,
    options: { batchSize?: number; rebuild?: boolean } = {},
  ): Promise<ReindexReport> {
    const { batchSize = 500, rebuild = false } = options;
    const report: ReindexReport = { tenantId, examined: 0, indexed: 0, withoutWords: 0, batches: 0 };
    let afterId = '';
    for (;;) {
      const done = await storage.withTenant(tenantId, async (tx) => {
        const rows = await searchStore.messagesToIndex(tx, tenantId, {
          afterId,
          limit: batchSize,
          dialect: storage.dialect,
          all: rebuild,
        });
        const last = rows.at(-1);
        if (last === undefined) return true;
        afterId = last.id;
        const entries: IndexedMessage[] = [];
        for (const row of rows) {
          const text =
            row.body === null ? '' : await fieldCipher.open(tx, messageLocation(row, 'body'), row.body);
          entries.push({
            tenantId,
            messageId: row.id,
            dialogId: row.dialog_id,
            seq: row.seq,
            senderId: row.sender_id,
            createdAt: row.created_at,
            text,
          });
        }
        // Rebuild: replace each entry as an edit does, so it keeps its place in search order (SQLite's row
        // id). Otherwise: index the batch in one go (an entry's engine rows leave with it, by trigger on
        // both dialects, so a message without an entry has none left to clear).
        if (rebuild) for (const entry of entries) await index.reindexMessage(tx, entry);
        else await index.indexMessages(tx, entries);
        const indexed = await searchStore.indexedAmong(
          tx,
          tenantId,
          rows.map((row) => row.id),
        );
        report.batches += 1;
        report.examined += rows.length;
        report.indexed += indexed;
        report.withoutWords += rows.length - indexed;
        return rows.length < batchSize;
      });
      if (done) return report;
    }
  };
}

export type SearchReindex = ReturnType<typeof createSearchReindex>;
