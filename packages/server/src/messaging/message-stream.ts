import type { MessageBody, ReactionSummary } from '@parley/protocol';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import { type DialogRow, dialogStore, type MemberRow, type MessageRow } from './dialog-store.ts';
import type { MessageAttachments } from './message-attachments.ts';
import { messageEventStore } from './message-event-store.ts';
import { presentMessages } from './message-presenter.ts';
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
  /** The readers who may read the dialog, with their view; a reader absent here may not read it any more. */
  viewers: Map<string, StreamViewer>;
}

export interface StreamPage {
  items: StreamItem[];
  upTo: number;
  /** False when the member cannot read the dialog (not a member any more): stop delivering. */
  readable: boolean;
  more: boolean;
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
}) {
  const { storage } = deps;

  /** Readers' views: active members, and for a public dialog anyone (who then sees all of it). */
  async function viewersOf(tx: TenantTx, dialog: DialogRow, readerIds: readonly string[]) {
    const members = await dialogStore.membersAmong(tx, dialog.tenant_id, dialog.id, readerIds);
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

  async function shared(
    tx: TenantTx,
    tenantId: string,
    dialogId: string,
    after: number,
    limit: number,
    readerIds: readonly string[],
  ): Promise<SharedStreamPage> {
    const dialog = await dialogStore.findDialog(tx, tenantId, dialogId);
    if (!dialog) return { items: [], upTo: after, more: false, viewers: new Map() };
    const viewers = await viewersOf(tx, dialog, readerIds);
    if (viewers.size === 0) return { items: [], upTo: after, more: false, viewers };
    const floor = Math.min(...[...viewers.values()].map((viewer) => viewer.floor));
    const rows = await dialogStore.messages(tx, tenantId, dialogId, { floor, after, limit, order: 'asc' });
    const events = await messageEventStore.eventsAfter(tx, tenantId, dialogId, after, limit);
    // The first `limit` of the union: each list holds its own first `limit`.
    const merged = [
      ...rows.map((row) => ({ seq: row.seq, row })),
      ...events.map((event) => ({ seq: event.seq, event })),
    ]
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit);
    const more = rows.length === limit || events.length === limit;
    const upTo = merged.at(-1)?.seq ?? (more ? after : Math.max(after, dialog.last_seq));
    const targets = new Map<string, MessageRow>(rows.map((row) => [row.id, row]));
    for (const entry of merged) {
      if ('event' in entry && !targets.has(entry.event.message_id)) {
        const row = await dialogStore.messageById(tx, tenantId, entry.event.message_id);
        if (row) targets.set(row.id, row);
      }
    }
    const visibleRows = [...targets.values()].filter((row) => row.seq > floor);
    const presented = new Map(
      (await presentMessages(tx, deps, tenantId, visibleRows)).map((message) => [message.id, message]),
    );
    const hidden = await messageEventStore.hiddenFor(
      tx,
      tenantId,
      [...viewers.keys()],
      [...presented.keys()],
    );
    for (const { userId, messageId } of hidden) viewers.get(userId)?.hidden.add(messageId);
    const items: SharedItem[] = [];
    for (const entry of merged) {
      const message = presented.get('row' in entry ? entry.row.id : entry.event.message_id);
      if (!message) continue;
      const about = { messageId: message.id, messageSeq: message.seq };
      if ('row' in entry) items.push({ ...about, item: { type: 'message.new', seq: entry.seq, message } });
      else if (entry.event.kind === 'edited')
        items.push({ ...about, item: { type: 'message.edited', seq: entry.seq, message } });
      else if (entry.event.kind === 'deleted')
        items.push({ ...about, item: { type: 'message.deleted', seq: entry.seq, messageId: message.id } });
      else
        items.push({
          ...about,
          item: {
            type: 'message.reactions',
            seq: entry.seq,
            messageId: message.id,
            reactions: message.reactions,
          },
        });
    }
    return { items, upTo, more, viewers };
  }

  return {
    /** One read of the dialog's stream for several readers; filter per reader with `visibleItems`. */
    shared: (
      tenantId: string,
      dialogId: string,
      after: number,
      limit: number,
      readerIds: readonly string[],
    ) => storage.withTenant(tenantId, (tx) => shared(tx, tenantId, dialogId, after, limit, readerIds)),

    /** The stream as one reader sees it. */
    async after(
      tenantId: string,
      userId: string,
      dialogId: string,
      after: number,
      limit: number,
    ): Promise<StreamPage> {
      const page = await storage.withTenant(tenantId, (tx) =>
        shared(tx, tenantId, dialogId, after, limit, [userId]),
      );
      const viewer = page.viewers.get(userId);
      if (!viewer) return { items: [], upTo: after, readable: false, more: false };
      return { items: visibleItems(page.items, viewer), upTo: page.upTo, readable: true, more: page.more };
    },
  };
}

export type MessageStream = ReturnType<typeof createMessageStream>;
