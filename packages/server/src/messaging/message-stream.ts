import type { MessageBody, ReactionSummary } from '@parley/protocol';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import type { DialogRow, MemberRow, MessageRow } from './dialog-store.ts';
import type { CommittedPage, CommittedPages } from './committed-pages.ts';
import type { MessageAttachments } from './message-attachments.ts';
import { type DialogEventRow, messageEventStore } from './message-event-store.ts';
import { groupBy } from '../group-by.ts';
import { presentMessages } from './message-presenter.ts';
import { messageStreamStore } from './message-stream-store.ts';
import { visibleFloor } from './message-service.ts';

/** One entry of a dialog's stream. */
export type StreamItem =
  | { type: 'message.new'; seq: number; message: MessageBody }
  | { type: 'message.edited'; seq: number; message: MessageBody }
  | { type: 'message.deleted'; seq: number; messageId: string }
  | { type: 'message.reactions'; seq: number; messageId: string; reactions: ReactionSummary[] };

/** A stream item with what decides who may see it: the seq and id of the message it is about. */
export interface SharedItem {
  item: StreamItem;
  messageId: string;
  messageSeq: number;
}

/** What one reader may see of a shared page. */
export interface StreamViewer {
  /** Messages at or below this seq are not theirs to see (joined later with hidden history, or cleared). */
  floor: number;
  /** Messages they deleted for themselves. */
  hidden: Set<string>;
}

export interface SharedStreamPage {
  items: SharedItem[];
  /** The highest sequence number this page covered. */
  upTo: number;
  /** True when more may follow. */
  more: boolean;
  /**
   * The dialog's `pruned_seq`: changes at or below it may have been removed for good (retention), so a reader
   * whose position is below it cannot be brought up to date by replay and must resync.
   */
  prunedTo: number;
  /** The readers who may read the dialog, with their view; a reader absent here may not read it any more. */
  viewers: Map<string, StreamViewer>;
}

/** One dialog to read for a shared page: its changes above `after`, for these readers. */
export interface SharedRead {
  dialogId: string;
  after: number;
  readerIds: readonly string[];
}

export interface StreamPage {
  items: StreamItem[];
  upTo: number;
  /** False when the member cannot read the dialog (not a member any more): stop delivering. */
  readable: boolean;
  more: boolean;
  /** See {@link SharedStreamPage.prunedTo}. */
  prunedTo: number;
}

/** The items of a shared page one viewer may see. */
export function visibleItems(items: readonly SharedItem[], viewer: StreamViewer): StreamItem[] {
  return items
    .filter((entry) => entry.messageSeq > viewer.floor && !viewer.hidden.has(entry.messageId))
    .map((entry) => entry.item);
}

/**
 * A dialog's stream after a position, read from the database: new messages and the sequenced events that
 * changed messages, merged in sequence order, each showing the message as it is now. The realtime gateway
 * reads it once per dialog and node for all the members it serves (`shared`), then filters per member; a
 * single reader (`after`) is the same read for one.
 */
export function createMessageStream(deps: {
  storage: Storage;
  fieldCipher: FieldCipher;
  attachments: MessageAttachments;
  /** What this node committed itself: a read it covers takes its items from there, not the database. */
  committed?: CommittedPages | undefined;
}) {
  const { storage, committed } = deps;

  /** Readers' views of one dialog: active members, and for a public dialog anyone (who then sees all of it). */
  function viewersOf(dialog: DialogRow, readerIds: readonly string[], members: readonly MemberRow[]) {
    const byUser = new Map<string, MemberRow>(members.map((member) => [member.user_id, member]));
    const viewers = new Map<string, StreamViewer>();
    for (const readerId of readerIds) {
      const member = byUser.get(readerId);
      const active = member?.left_at === null ? member : undefined;
      if (!active && (dialog.type !== 'public' || dialog.hide_history === 1)) continue;
      viewers.set(readerId, { floor: visibleFloor(dialog, active), hidden: new Set() });
    }
    return viewers;
  }

  /** One dialog's page from the rows read for all: the first `limit` of its messages and events merged. */
  function pageOf(
    dialog: DialogRow,
    after: number,
    limit: number,
    rows: readonly MessageRow[],
    events: readonly DialogEventRow[],
  ) {
    const merged = [
      ...rows.map((row) => ({ seq: row.seq, row })),
      ...events.map((event) => ({ seq: event.seq, event })),
    ]
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit);
    // Each list holds its own first `limit`; a full list may have more behind it.
    const more = rows.length === limit || events.length === limit;
    const upTo = merged.at(-1)?.seq ?? (more ? after : Math.max(after, dialog.last_seq));
    return { merged, more, upTo };
  }

  function itemOf(
    entry: { seq: number; row: MessageRow } | { seq: number; event: DialogEventRow },
    message: MessageBody,
  ): SharedItem {
    const about = { messageId: message.id, messageSeq: message.seq };
    if ('row' in entry) return { ...about, item: { type: 'message.new', seq: entry.seq, message } };
    switch (entry.event.kind) {
      case 'edited':
        return { ...about, item: { type: 'message.edited', seq: entry.seq, message } };
      case 'deleted':
        return { ...about, item: { type: 'message.deleted', seq: entry.seq, messageId: message.id } };
      case 'reactions':
        return {
          ...about,
          item: {
            type: 'message.reactions',
            seq: entry.seq,
            messageId: message.id,
            reactions: message.reactions,
          },
        };
    }
  }

  /**
   * Several dialogs' streams in one transaction and a fixed number of statements, whatever the number of
   * dialogs: the realtime hub reads every dialog that changed in a turn of the event loop at once.
   */
  async function sharedMany(
    tx: TenantTx,
    tenantId: string,
    reads: readonly SharedRead[],
    limit: number,
  ): Promise<Map<string, SharedStreamPage>> {
    const pages = new Map<string, SharedStreamPage>();
    const empty = (read: SharedRead, viewers = new Map<string, StreamViewer>(), prunedTo = 0) =>
      pages.set(read.dialogId, { items: [], upTo: read.after, more: false, prunedTo, viewers });
    const dialogIds = reads.map((read) => read.dialogId);
    const dialogs = new Map(
      (await messageStreamStore.dialogs(tx, tenantId, dialogIds)).map((dialog) => [dialog.id, dialog]),
    );
    const readerIds = [...new Set(reads.flatMap((read) => read.readerIds))];
    const members = groupBy(
      await messageStreamStore.members(tx, tenantId, [...dialogs.keys()], readerIds),
      (member) => member.dialog_id,
    );
    // Per dialog: its viewers and the lowest position any of them needs (below a viewer's floor: nothing).
    const open: { read: SharedRead; dialog: DialogRow; viewers: Map<string, StreamViewer>; floor: number }[] =
      [];
    for (const read of reads) {
      const dialog = dialogs.get(read.dialogId);
      if (!dialog) {
        empty(read);
        continue;
      }
      const viewers = viewersOf(dialog, read.readerIds, members.get(dialog.id) ?? []);
      if (viewers.size === 0) empty(read, viewers, dialog.pruned_seq);
      else
        open.push({ read, dialog, viewers, floor: Math.min(...[...viewers.values()].map((v) => v.floor)) });
    }
    // Items this node committed itself come from memory; the viewers above and the hidden sets below are
    // read for them all the same, so a leaver, a late joiner or a "delete for me" is honoured either way.
    const fromMemory: { entry: (typeof open)[number]; page: CommittedPage }[] = [];
    const fromDatabase: typeof open = [];
    for (const entry of open) {
      const page = committed?.page(tenantId, entry.read.dialogId, entry.read.after, limit);
      if (page && page.reach >= entry.dialog.last_seq) fromMemory.push({ entry, page });
      else fromDatabase.push(entry);
    }
    const rows = groupBy(
      await messageStreamStore.messages(
        tx,
        tenantId,
        fromDatabase.map(({ read, floor }) => ({
          dialogId: read.dialogId,
          after: Math.max(floor, read.after),
        })),
        limit,
      ),
      (row) => row.dialog_id,
    );
    const events = groupBy(
      await messageStreamStore.events(
        tx,
        tenantId,
        fromDatabase.map(({ read }) => read),
        limit,
      ),
      (event) => event.dialog_id,
    );
    const slices = fromDatabase.map((entry) => ({
      ...entry,
      ...pageOf(
        entry.dialog,
        entry.read.after,
        limit,
        rows.get(entry.read.dialogId) ?? [],
        events.get(entry.read.dialogId) ?? [],
      ),
    }));
    // Events about messages older than the page: their messages, as they are now.
    const targets = new Map<string, MessageRow>(
      slices.flatMap(({ merged }) =>
        merged.flatMap((entry) => ('row' in entry ? [[entry.row.id, entry.row]] : [])),
      ),
    );
    const missing = slices.flatMap(({ merged }) =>
      merged.flatMap((entry) =>
        'event' in entry && !targets.has(entry.event.message_id) ? [entry.event.message_id] : [],
      ),
    );
    for (const row of await messageStreamStore.messagesByIds(tx, tenantId, [...new Set(missing)]))
      targets.set(row.id, row);
    const floors = new Map(slices.map(({ read, floor }) => [read.dialogId, floor]));
    const visibleRows = [...targets.values()].filter(
      (row) => row.seq > (floors.get(row.dialog_id) ?? Infinity),
    );
    const presented = new Map(
      (await presentMessages(tx, deps, tenantId, visibleRows)).map((message) => [message.id, message]),
    );
    const viewersByDialog = new Map(open.map(({ read, viewers }) => [read.dialogId, viewers]));
    const dialogOf = new Map([...presented.values()].map((message) => [message.id, message.dialogId]));
    for (const { entry, page } of fromMemory)
      for (const { messageId } of page.items) dialogOf.set(messageId, entry.read.dialogId);
    const hidden = await messageEventStore.hiddenFor(
      tx,
      tenantId,
      [...new Set(open.flatMap(({ viewers }) => [...viewers.keys()]))],
      [...dialogOf.keys()],
    );
    for (const { userId, messageId } of hidden) {
      const dialogId = dialogOf.get(messageId);
      if (dialogId !== undefined) viewersByDialog.get(dialogId)?.get(userId)?.hidden.add(messageId);
    }
    for (const { entry, page } of fromMemory) {
      const items = page.items.filter((item) => item.messageSeq > entry.floor);
      pages.set(entry.read.dialogId, {
        items,
        upTo: page.upTo,
        more: page.more,
        prunedTo: entry.dialog.pruned_seq,
        viewers: entry.viewers,
      });
    }
    for (const { read, dialog, merged, more, upTo, viewers } of slices) {
      const items: SharedItem[] = [];
      for (const entry of merged) {
        const message = presented.get('row' in entry ? entry.row.id : entry.event.message_id);
        if (message) items.push(itemOf(entry, message));
      }
      pages.set(read.dialogId, { items, upTo, more, prunedTo: dialog.pruned_seq, viewers });
    }
    return pages;
  }

  return {
    /**
     * One read of several dialogs' streams for several readers each; filter per reader with `visibleItems`.
     * Every dialog asked for has a page in the answer (empty when it is gone or nobody may read it).
     */
    sharedMany: (tenantId: string, reads: readonly SharedRead[], limit: number) =>
      storage.withTenant(tenantId, (tx) => sharedMany(tx, tenantId, reads, limit)),

    /** The stream as one reader sees it. */
    async after(
      tenantId: string,
      userId: string,
      dialogId: string,
      after: number,
      limit: number,
    ): Promise<StreamPage> {
      const pages = await storage.withTenant(tenantId, (tx) =>
        sharedMany(tx, tenantId, [{ dialogId, after, readerIds: [userId] }], limit),
      );
      const page = pages.get(dialogId);
      const viewer = page?.viewers.get(userId);
      if (!page || !viewer) return { items: [], upTo: after, readable: false, more: false, prunedTo: 0 };
      return {
        items: visibleItems(page.items, viewer),
        upTo: page.upTo,
        readable: true,
        more: page.more,
        prunedTo: page.prunedTo,
      };
    },
  };
}

export type MessageStream = ReturnType<typeof createMessageStream>;
