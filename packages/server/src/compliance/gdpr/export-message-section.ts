import type { TenantTx } from '../../storage/database.ts';
import type { MessagesTable } from '../../storage/tables.ts';
import { openMessage } from './export-records.ts';
import {
  EXPORT_PAGE_SIZE,
  type ExportScope,
  type ExportSection,
  readCursor,
  type SectionDeps,
  type SectionPage,
} from './export-section.ts';
import { exportSourceStore as source, type MembershipRow } from './export-source-store.ts';

/** Where the walk stands: in dialog `d` (empty: before the first), after sequence number `s`. */
interface MessageCursor {
  d: string;
  s: number;
}

type MessageRecords = Record<
  'messages-sent' | 'messages-received' | 'hidden-messages' | 'reactions',
  unknown[]
>;

const iso = (at: number) => new Date(at).toISOString();
const isoOrNull = (at: number | null) => (at === null ? null : iso(at));

/**
 * Whether the subject, as a member, can read another person's message now: the membership is current, the
 * dialog not deleted, the message not deleted, above what they cleared (and, where the dialog hides history,
 * above where they joined), and not deleted for themselves. The same rule as history reads
 * (messaging/dialog-rules.ts `visibleFloor`).
 */
function readable(member: MembershipRow, row: MessagesTable, hidden: ReadonlySet<string>): boolean {
  const floor = Math.max(member.cleared_seq, member.hide_history === 1 ? member.joined_seq : 0);
  return (
    member.left_at === null &&
    member.deleted_at === null &&
    row.deleted_at === null &&
    row.seq > floor &&
    !hidden.has(row.id)
  );
}

/**
 * Every message of every dialog the subject is or was a member of, walked dialog by dialog in sequence
 * order (the (dialog_id, seq) index), one page of rows at a time. A message can only be sent by a member
 * and memberships are never deleted, so this walk meets every message the subject ever sent. Each page
 * gives: the subject's own messages (deleted ones without their text), the other people's messages they can
 * read (unless the policy is `none`; senders and mentions named as the policy says), which of them they
 * deleted for themselves, and their reactions.
 */
export function messageSection(deps: SectionDeps, scope: ExportScope): ExportSection {
  const { storage, fieldCipher } = deps;
  const { tenantId, subjectId, policy, name } = scope;

  /** The membership the walk stands in: `dialogId`'s, or the first one at the start. */
  async function membershipAt(tx: TenantTx, dialogId: string): Promise<MembershipRow | undefined> {
    if (dialogId !== '') return source.membership(tx, tenantId, subjectId, dialogId);
    const [first] = await source.memberships(tx, tenantId, subjectId, '', 1);
    return first;
  }

  async function pageOf(tx: TenantTx, member: MembershipRow, rows: MessagesTable[], page: MessageRecords) {
    const ids = rows.map((row) => row.id);
    const hidden = await source.hiddenAmong(tx, tenantId, subjectId, ids);
    const shared = new Map<string, string[]>();
    for (const share of await source.sharedAttachments(tx, tenantId, ids)) {
      const list = shared.get(share.message_id) ?? [];
      list.push(share.attachment_id);
      shared.set(share.message_id, list);
    }
    for (const row of rows) {
      const own = row.sender_id === subjectId;
      if (hidden.has(row.id)) page['hidden-messages'].push({ messageId: row.id, dialogId: row.dialog_id });
      if (!own && (policy === 'none' || !readable(member, row, hidden))) continue;
      const opened = await openMessage(tx, fieldCipher, row);
      const common = {
        id: row.id,
        dialogId: row.dialog_id,
        seq: row.seq,
        body: opened.body,
        properties: opened.properties,
        replyTo: row.reply_to,
        mentions: opened.mentions.map(name),
        attachments: row.deleted_at === null ? (shared.get(row.id) ?? []) : [],
        createdAt: iso(row.created_at),
        editedAt: isoOrNull(row.edited_at),
      };
      if (own)
        page['messages-sent'].push({
          ...common,
          clientId: row.client_id,
          deletedAt: isoOrNull(row.deleted_at),
        });
      else page['messages-received'].push({ ...common, sender: name(row.sender_id) });
    }
    for (const reaction of await source.reactionsAmong(tx, tenantId, subjectId, ids)) {
      page.reactions.push({
        messageId: reaction.message_id,
        dialogId: member.id,
        emoji: reaction.emoji,
        createdAt: iso(reaction.created_at),
      });
    }
  }

  return {
    name: 'messages',
    page: (cursor) =>
      storage.withTenant(tenantId, async (tx): Promise<SectionPage> => {
        const at = readCursor<MessageCursor>(cursor, { d: '', s: 0 });
        const records: MessageRecords = {
          'messages-sent': [],
          'messages-received': [],
          'hidden-messages': [],
          reactions: [],
        };
        let member = await membershipAt(tx, at.d);
        let afterSeq = at.d === member?.id ? at.s : 0;
        let budget = EXPORT_PAGE_SIZE;
        while (member !== undefined && budget > 0) {
          const rows = await source.dialogMessages(tx, tenantId, member.id, afterSeq, budget);
          await pageOf(tx, member, rows, records);
          budget -= rows.length;
          const last = rows.at(-1);
          if (last !== undefined && budget === 0) {
            afterSeq = last.seq;
            break;
          }
          [member] = await source.memberships(tx, tenantId, subjectId, member.id, 1);
          afterSeq = 0;
        }
        return {
          records,
          next:
            member === undefined
              ? null
              : JSON.stringify({ d: member.id, s: afterSeq } satisfies MessageCursor),
        };
      }),
  };
}
