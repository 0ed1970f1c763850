import { randomUUID } from 'node:crypto';
import { newId } from '../packages/server/src/ids.js';
import type { MessageRow } from '../packages/server/src/messaging/dialog-store.js';
import type { GrownVocabulary, SeededRandom } from './grown-text.js';

/**
 * One dialog's history as a sequence of what its members did, in sequence-number order: sends, and the
 * changes the server sequences after them (edits, deletions for everyone, reactions), plus the unsequenced
 * "delete for me". Pure: no database here; grown-history.ts writes each step as the server's services would.
 */
export type HistoryStep =
  | { kind: 'send'; row: MessageRow; text: string }
  | { kind: 'edit'; message: MessageRow; text: string; seq: number; at: number }
  | { kind: 'delete'; message: MessageRow; seq: number; at: number }
  | { kind: 'react'; message: MessageRow; userId: string; emoji: string; seq: number; at: number }
  | { kind: 'hide'; message: MessageRow; userId: string };

/** How often each fate befalls a sent message (edited and deleted exclude each other and reactions). */
export const FATES = {
  deleted: 0.01,
  edited: 0.03,
  reacted: 0.05,
  hidden: 0.002,
  reply: 0.04,
  /** In a group: names one member. */
  mention: 0.02,
} as const;

const REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '🙏', '👀', '🔥'];
/** Messages a reply or a later change may still reach back to. */
const RECENT = 50;

/** A change waiting for its turn: it takes the next seq when the dialog reaches `due` sends. */
type Pending =
  | { kind: 'edit'; message: MessageRow; text: string; actor: string }
  | { kind: 'delete'; message: MessageRow; actor: string }
  | { kind: 'react'; message: MessageRow; userId: string; emoji: string }
  | { kind: 'hide'; message: MessageRow; userId: string };

export interface TimelineOptions {
  tenantId: string;
  dialogId: string;
  /** Active members, creator first. */
  memberIds: readonly string[];
  /** Messages to send over the whole history. */
  messages: number;
  /** Sequence numbers already taken (the dialog's `last_seq` before growing). */
  startSeq: number;
  /** The history spans [from, to] (ms); sequence numbers are spread evenly over it. */
  from: number;
  to: number;
  random: SeededRandom;
  vocabulary: GrownVocabulary;
}

/**
 * Generates a dialog's history step by step: `next(n)` returns the steps of the next `n` sends with the
 * changes that fell due among them; `finish()` the changes still due after the last send.
 */
export class DialogTimeline {
  readonly #options: TimelineOptions;
  readonly #pending = new Map<number, Pending[]>();
  readonly #recent: MessageRow[] = [];
  readonly #reactions = new Set<string>();
  /** ms per sequence number: changes add about a tenth to the sends. */
  readonly #step: number;
  #sent = 0;
  seq: number;
  lastAt: number;

  constructor(options: TimelineOptions) {
    this.#options = options;
    this.seq = options.startSeq;
    this.lastAt = options.from;
    this.#step = (options.to - options.from) / Math.max(1, options.messages * 1.12);
  }

  get remaining(): number {
    return this.#options.messages - this.#sent;
  }

  /** The time of the next sequence number: even spacing with jitter, never backwards, never past `to`. */
  #tick(): { seq: number; at: number } {
    const { from, to, startSeq, random } = this.#options;
    this.seq += 1;
    const planned = from + (this.seq - startSeq + random.next()) * this.#step;
    this.lastAt = Math.max(this.lastAt + 1, Math.min(to, Math.round(planned)));
    return { seq: this.seq, at: this.lastAt };
  }

  #schedule(due: number, change: Pending): void {
    const list = this.#pending.get(due) ?? [];
    list.push(change);
    this.#pending.set(due, list);
  }

  #sender(): string {
    const { memberIds, random } = this.#options;
    // A few members of a group do most of the talking.
    return memberIds[Math.floor(memberIds.length * random.next() ** 2)] ?? memberIds[0] ?? '';
  }

  #other(userId: string): string {
    const { memberIds, random } = this.#options;
    if (memberIds.length < 2) return userId;
    let other = userId;
    while (other === userId) other = random.pick(memberIds);
    return other;
  }

  #send(): HistoryStep {
    const { tenantId, dialogId, memberIds, random, vocabulary } = this.#options;
    const { seq, at } = this.#tick();
    const senderId = this.#sender();
    const text = vocabulary.message(random);
    const replyTo = this.#recent.length > 0 && random.chance(FATES.reply) ? random.pick(this.#recent) : null;
    const mentions = memberIds.length > 2 && random.chance(FATES.mention) ? [this.#other(senderId)] : [];
    const row: MessageRow = {
      id: newId(),
      tenant_id: tenantId,
      dialog_id: dialogId,
      seq,
      sender_id: senderId,
      client_id: randomUUID(),
      body: null,
      reply_to: replyTo?.id ?? null,
      mentions: JSON.stringify(mentions),
      properties: null,
      created_at: at,
      edited_at: null,
      deleted_at: null,
    };
    this.#decideFate(row, text);
    this.#recent.push(row);
    if (this.#recent.length > RECENT) this.#recent.shift();
    return { kind: 'send', row, text };
  }

  /** What will happen to a message after it is sent, each change due a few sends later. */
  #decideFate(row: MessageRow, text: string): void {
    const { random, vocabulary } = this.#options;
    const due = (within: number) => this.#sent + 1 + random.int(0, within);
    const fate = random.next();
    if (fate < FATES.deleted) {
      this.#schedule(due(5), { kind: 'delete', message: row, actor: row.sender_id });
    } else if (fate < FATES.deleted + FATES.edited) {
      const edited = random.chance(0.5) ? vocabulary.message(random) : `${text} ${vocabulary.draw(random)}`;
      this.#schedule(due(3), { kind: 'edit', message: row, text: edited, actor: row.sender_id });
    } else if (fate < FATES.deleted + FATES.edited + FATES.reacted) {
      for (let count = random.int(1, 3); count > 0; count -= 1) {
        const userId = random.chance(0.8) ? this.#other(row.sender_id) : row.sender_id;
        this.#schedule(due(20), { kind: 'react', message: row, userId, emoji: random.pick(REACTIONS) });
      }
    }
    if (random.chance(FATES.hidden))
      this.#schedule(due(30), { kind: 'hide', message: row, userId: this.#other(row.sender_id) });
  }

  #emit(change: Pending): HistoryStep | undefined {
    switch (change.kind) {
      case 'hide':
        return change;
      case 'edit':
        return { kind: 'edit', message: change.message, text: change.text, ...this.#tick() };
      case 'delete':
        return { kind: 'delete', message: change.message, ...this.#tick() };
      case 'react': {
        // The same reaction twice changes nothing and takes no sequence number.
        const key = `${change.message.id} ${change.userId} ${change.emoji}`;
        if (this.#reactions.has(key)) return undefined;
        this.#reactions.add(key);
        return { ...change, ...this.#tick() };
      }
    }
  }

  #due(index: number): HistoryStep[] {
    const changes = this.#pending.get(index) ?? [];
    this.#pending.delete(index);
    return changes.map((change) => this.#emit(change)).filter((step) => step !== undefined);
  }

  /** The next `count` sends (fewer at the end), each after the changes that fell due before it. */
  next(count: number): HistoryStep[] {
    const steps: HistoryStep[] = [];
    const until = Math.min(this.#options.messages, this.#sent + count);
    while (this.#sent < until) {
      steps.push(...this.#due(this.#sent));
      steps.push(this.#send());
      this.#sent += 1;
    }
    return steps;
  }

  /** The changes still due after the last send, in order. */
  finish(): HistoryStep[] {
    const dues = [...this.#pending.keys()].sort((a, b) => a - b);
    return dues.flatMap((due) => this.#due(due));
  }
}
