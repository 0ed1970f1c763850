import {
  type ConnectionState,
  type MemoryTokenStore,
  ParleyApiError,
  type ParleyClient,
  RealtimeError,
} from '@parley/client';
import type { AttachmentBody, DialogBody, MessageBody, ProfileBody, ReactionSummary } from '@parley/protocol';
import { owedPurposes } from '../consent-owed.ts';
import { chatErrorText as errorText } from './chat-text.ts';

/** A message typed here and not yet confirmed by the server's `message.new` (same client id). */
export interface PendingSend {
  clientId: string;
  dialogId: string;
  body: string;
  attachments: AttachmentBody[];
  /** `queued`: waiting for the connection (sent once it is back); `failed`: refused, retry keeps the client id. */
  state: 'sending' | 'queued' | 'sent' | 'failed';
  error?: string;
  createdAt: string;
}

/** One dialog's loaded history: a window from `oldestSeq` to the newest message, oldest first. */
export interface Thread {
  messages: MessageBody[];
  oldestSeq: number | null;
  /** Nothing older to load. */
  complete: boolean;
  loading: boolean;
  error?: string;
}

export interface Receipts {
  deliveredSeq: number;
  readSeq: number;
}

export interface ChatState {
  connection: ConnectionState;
  /** The browser says it has a network (`navigator.onLine`). */
  online: boolean;
  dialogs: DialogBody[];
  dialogsLoaded: boolean;
  activeId: string | undefined;
  threads: Readonly<Record<string, Thread>>;
  pending: readonly PendingSend[];
  /** Dialog → user → until when (ms) they are shown typing. */
  typing: Readonly<Record<string, Readonly<Record<string, number>>>>;
  presence: Readonly<Record<string, 'online' | 'offline'>>;
  receipts: Readonly<Record<string, Readonly<Record<string, Receipts>>>>;
  notice: string | undefined;
  /**
   * The user owes consent to a required purpose (a new version was published, or it was never given): the
   * server refused the socket with 4003 or a request with `consent_required`. The app shows the consent step;
   * the connection stays closed (the SDK does not retry a 4003) until {@link ChatModel.start} again.
   */
  consentRequired: boolean;
}

const PAGE = 30;
const TYPING_SHOWN_MS = 6000;
const TYPING_REPEAT_MS = 3000;

/**
 * The chat app's state and its wiring to the SDK: REST for dialogs and history, the realtime connection for
 * everything live (sends go through its outgoing queue, so a send made offline is delivered once, after the
 * reconnect, with the same client id). Components read {@link ChatModel.state} through `useChat`.
 */
export class ChatModel {
  readonly client: ParleyClient;
  readonly me: ProfileBody;
  readonly #tokens: MemoryTokenStore;
  readonly #listeners = new Set<() => void>();
  readonly #stops: (() => void)[] = [];
  readonly #typingSent = new Map<string, number>();
  /** Dialog → the epoch its stream position was handed to the SDK in (see `#afterReady`). */
  readonly #tracked = new Map<string, string>();
  #state: ChatState;

  constructor(client: ParleyClient, tokens: MemoryTokenStore, me: ProfileBody) {
    this.client = client;
    this.#tokens = tokens;
    this.me = me;
    this.#state = {
      connection: 'idle',
      online: navigator.onLine,
      dialogs: [],
      dialogsLoaded: false,
      activeId: undefined,
      threads: {},
      pending: [],
      typing: {},
      presence: {},
      receipts: {},
      notice: undefined,
      consentRequired: false,
    };
  }

  get state(): ChatState {
    return this.#state;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getState = (): ChatState => this.#state;

  #set(patch: Partial<ChatState>): void {
    this.#state = { ...this.#state, ...patch };
    for (const listener of this.#listeners) listener();
  }

  /** The current access token (for the upload with progress, which needs XMLHttpRequest). */
  accessToken(): string | undefined {
    return this.#tokens.load()?.accessToken;
  }

  start(): void {
    this.#set({ consentRequired: false, notice: undefined });
    const realtime = this.client.realtime;
    const on = this.#stops.push.bind(this.#stops);
    on(
      realtime.on('connection', (event) => {
        this.#set({ connection: event.state });
        if (event.state === 'ready') void this.#afterReady();
        if (event.state === 'closed' && event.error) {
          this.#set({ notice: `Disconnected: ${event.error.message}` });
          if (event.error.code === 'forbidden') void this.#checkConsent();
        }
        this.#refreshPendingStates();
      }),
    );
    on(
      realtime.on('message.new', (frame) => {
        this.#onMessage(frame.dialogId, frame.message, true);
      }),
    );
    on(
      realtime.on('message.edited', (frame) => {
        this.#onMessage(frame.dialogId, frame.message, false);
      }),
    );
    on(
      realtime.on('message.deleted', (frame) => {
        this.#patchMessage(frame.dialogId, frame.messageId, (message) => ({
          ...message,
          deleted: true,
          body: null,
          attachments: [],
          reactions: [],
        }));
      }),
    );
    on(
      realtime.on('message.reactions', (frame) => {
        this.#patchMessage(frame.dialogId, frame.messageId, (message) => ({
          ...message,
          reactions: frame.reactions,
        }));
      }),
    );
    on(
      realtime.on('receipt', (frame) => {
        const current = this.#state.receipts[frame.dialogId] ?? {};
        this.#set({
          receipts: {
            ...this.#state.receipts,
            [frame.dialogId]: {
              ...current,
              [frame.userId]: { deliveredSeq: frame.deliveredSeq, readSeq: frame.readSeq },
            },
          },
        });
      }),
    );
    on(
      realtime.on('typing', (frame) => {
        if (frame.userId === this.me.id) return;
        const others = Object.entries(this.#state.typing[frame.dialogId] ?? {}).filter(
          ([userId]) => userId !== frame.userId,
        );
        if (frame.state === 'started') others.push([frame.userId, Date.now() + TYPING_SHOWN_MS]);
        this.#set({ typing: { ...this.#state.typing, [frame.dialogId]: Object.fromEntries(others) } });
        // Shown until then unless repeated: re-render once it has run out.
        setTimeout(() => {
          this.#set({});
        }, TYPING_SHOWN_MS + 50);
      }),
    );
    on(
      realtime.on('presence', (frame) => {
        this.#set({ presence: { ...this.#state.presence, [frame.userId]: frame.status } });
      }),
    );
    on(
      realtime.on('resync', (frame) => {
        this.#tracked.delete(frame.dialogId);
        const threads = Object.entries(this.#state.threads).filter(([id]) => id !== frame.dialogId);
        this.#set({ threads: Object.fromEntries(threads) });
        if (this.#state.activeId === frame.dialogId) void this.loadOlder(frame.dialogId);
      }),
    );
    const online = () => {
      this.#set({ online: navigator.onLine });
      this.#refreshPendingStates();
    };
    window.addEventListener('online', online);
    window.addEventListener('offline', online);
    this.#stops.push(() => {
      window.removeEventListener('online', online);
      window.removeEventListener('offline', online);
    });
    realtime.connect();
  }

  stop(): void {
    for (const stop of this.#stops.splice(0)) stop();
    this.client.realtime.close();
    // Handed to the app already (it shows the consent step): the next start begins without it.
    this.#set({ consentRequired: false });
  }

  /**
   * After a 4003: is it consent the user owes (the consent step can fix that) or a session that may not chat
   * (the notice stays)? `GET /v1/me/consents` needs only the `profile` scope, which such a token keeps.
   */
  async #checkConsent(): Promise<void> {
    try {
      if (owedPurposes(await this.client.consents.list()).length > 0) this.#set({ consentRequired: true });
    } catch (error) {
      this.#noteConsent(error);
    }
  }

  /** A REST refusal with `consent_required`: the consent step is shown. */
  #noteConsent(error: unknown): void {
    if (error instanceof ParleyApiError && error.code === 'consent_required')
      this.#set({ consentRequired: true });
  }

  /** After each `ready`: the dialogs (with unread counts), their resume positions, and presence. */
  async #afterReady(): Promise<void> {
    const session = this.client.realtime.session;
    try {
      const dialogs: DialogBody[] = [];
      for await (const dialog of this.client.dialogs.all()) {
        dialogs.push(dialog);
        if (dialogs.length >= 500) break;
      }
      dialogs.sort(byActivity);
      this.#set({ dialogs, dialogsLoaded: true, notice: undefined });
      if (session)
        for (const dialog of dialogs) {
          // Only a dialog not followed yet in this epoch starts from its REST position. One already followed
          // resumes from the SDK's own position, and the server may still be replaying what was missed: moving
          // the position on to the newer `lastSeq` would drop that replay as already seen (messages sent
          // during an outage never shown).
          if (this.#tracked.get(dialog.id) === session.epoch) continue;
          this.#tracked.set(dialog.id, session.epoch);
          this.client.realtime.track(dialog.id, { seq: dialog.lastSeq, epoch: session.epoch });
        }
      this.#followPresence();
      const active = this.#state.activeId;
      if (active) {
        void this.#loadReceipts(active);
        this.markRead(active);
      }
    } catch (error) {
      this.#set({ notice: errorText(error), dialogsLoaded: true });
      this.#noteConsent(error);
    }
  }

  #followPresence(): void {
    const others = new Set<string>();
    for (const dialog of this.#state.dialogs)
      for (const id of dialog.memberIds) if (id !== this.me.id) others.add(id);
    this.client.realtime.notify({ type: 'presence.subscribe', userIds: [...others].slice(0, 500) });
  }

  open(dialogId: string | undefined): void {
    this.#set({ activeId: dialogId });
    if (dialogId === undefined) return;
    if (!this.#state.threads[dialogId]) void this.loadOlder(dialogId);
    else this.markRead(dialogId);
    void this.#loadReceipts(dialogId);
  }

  async #loadReceipts(dialogId: string): Promise<void> {
    try {
      const receipts = await this.client.messages.receipts(dialogId);
      const byUser: Record<string, Receipts> = {};
      for (const entry of receipts)
        byUser[entry.userId] = { deliveredSeq: entry.deliveredSeq, readSeq: entry.readSeq };
      this.#set({ receipts: { ...this.#state.receipts, [dialogId]: byUser } });
    } catch {
      // Receipts are a nicety: groups over the fan-out limit have none.
    }
  }

  /** The newest page first, then each older page (infinite scroll upwards). */
  async loadOlder(dialogId: string): Promise<void> {
    const thread = this.#state.threads[dialogId];
    if (thread?.loading === true || thread?.complete === true) return;
    this.#setThread(dialogId, {
      messages: thread?.messages ?? [],
      oldestSeq: thread?.oldestSeq ?? null,
      complete: false,
      loading: true,
    });
    try {
      const before = thread?.oldestSeq ?? undefined;
      const page = await this.client.messages.history(
        dialogId,
        before === undefined ? { limit: PAGE } : { limit: PAGE, before },
      );
      const current = this.#state.threads[dialogId]?.messages ?? [];
      const known = new Set(current.map((message) => message.id));
      const older = page.messages.filter((message) => !known.has(message.id));
      this.#setThread(dialogId, {
        messages: [...older, ...current],
        oldestSeq: page.oldestSeq ?? thread?.oldestSeq ?? null,
        complete: page.oldestSeq === null || page.oldestSeq <= 1,
        loading: false,
      });
      if (thread === undefined) this.markRead(dialogId);
    } catch (error) {
      this.#setThread(dialogId, {
        messages: thread?.messages ?? [],
        oldestSeq: thread?.oldestSeq ?? null,
        complete: false,
        loading: false,
        error: errorText(error),
      });
      this.#noteConsent(error);
    }
  }

  #setThread(dialogId: string, thread: Thread): void {
    this.#set({ threads: { ...this.#state.threads, [dialogId]: thread } });
  }

  /** Shows the message at once, then sends it through the realtime queue (kept while offline). */
  send(dialogId: string, body: string, attachments: AttachmentBody[] = []): void {
    const pending: PendingSend = {
      clientId: globalThis.crypto.randomUUID(),
      dialogId,
      body,
      attachments,
      state: 'sending',
      createdAt: new Date().toISOString(),
    };
    this.#set({ pending: [...this.#state.pending, pending] });
    this.#deliver(pending);
    this.stopTyping(dialogId);
  }

  /** Sends a failed message again with the same client id: the server keeps at most one of them. */
  retry(clientId: string): void {
    const pending = this.#state.pending.find((entry) => entry.clientId === clientId);
    if (pending) this.#deliver(pending);
  }

  discard(clientId: string): void {
    this.#set({ pending: this.#state.pending.filter((entry) => entry.clientId !== clientId) });
  }

  #deliver(pending: PendingSend): void {
    this.#patchPending(pending.clientId, { state: this.#sendState(), error: undefined });
    this.client.realtime
      .request({
        type: 'message.send',
        id: pending.clientId,
        dialogId: pending.dialogId,
        body: pending.body,
        ...(pending.attachments.length > 0
          ? { attachments: pending.attachments.map((attachment) => attachment.id) }
          : {}),
      })
      .then(
        () => {
          this.#patchPending(pending.clientId, { state: 'sent' });
        },
        (error: unknown) => {
          this.#patchPending(pending.clientId, { state: 'failed', error: errorText(error) });
        },
      );
  }

  /**
   * `queued` while the connection is down or the browser reports no network: a socket can look open then
   * (until the heartbeat gives up on it) while nothing goes through.
   */
  #sendState(): PendingSend['state'] {
    return this.client.realtime.state === 'ready' && navigator.onLine ? 'sending' : 'queued';
  }

  #refreshPendingStates(): void {
    const state = this.#sendState();
    if (!this.#state.pending.some((entry) => entry.state === 'sending' || entry.state === 'queued')) return;
    this.#set({
      pending: this.#state.pending.map((entry) =>
        entry.state === 'sending' || entry.state === 'queued' ? { ...entry, state } : entry,
      ),
    });
  }

  #patchPending(clientId: string, patch: Partial<PendingSend>): void {
    if (!this.#state.pending.some((entry) => entry.clientId === clientId)) return;
    this.#set({
      pending: this.#state.pending.map((entry) =>
        entry.clientId === clientId ? { ...entry, ...patch } : entry,
      ),
    });
  }

  async edit(dialogId: string, messageId: string, body: string): Promise<void> {
    await this.client.realtime.request({ type: 'message.edit', dialogId, messageId, body });
  }

  async remove(dialogId: string, messageId: string, forEveryone: boolean): Promise<void> {
    await this.client.realtime.request({ type: 'message.delete', dialogId, messageId, forEveryone });
    // Deleted for me only: no event follows (nothing changed for the others).
    if (!forEveryone) {
      const thread = this.#state.threads[dialogId];
      if (thread)
        this.#setThread(dialogId, {
          ...thread,
          messages: thread.messages.filter((message) => message.id !== messageId),
        });
    }
  }

  async react(dialogId: string, message: MessageBody, emoji: string): Promise<void> {
    const mine = message.reactions.some(
      (reaction: ReactionSummary) => reaction.emoji === emoji && reaction.userIds.includes(this.me.id),
    );
    await this.client.realtime.request({
      type: 'reaction',
      dialogId,
      messageId: message.id,
      emoji,
      op: mine ? 'remove' : 'add',
    });
  }

  /** Called on each keystroke: `started` at most every few seconds. */
  typing(dialogId: string): void {
    const last = this.#typingSent.get(dialogId) ?? 0;
    if (Date.now() - last < TYPING_REPEAT_MS) return;
    if (this.client.realtime.notify({ type: 'typing', dialogId, state: 'started' }))
      this.#typingSent.set(dialogId, Date.now());
  }

  stopTyping(dialogId: string): void {
    if (!this.#typingSent.has(dialogId)) return;
    this.#typingSent.delete(dialogId);
    this.client.realtime.notify({ type: 'typing', dialogId, state: 'stopped' });
  }

  /** Everything loaded in the open dialog is read (sent when connected; the unread count drops to 0). */
  markRead(dialogId: string): void {
    const thread = this.#state.threads[dialogId];
    const dialog = this.#state.dialogs.find((entry) => entry.id === dialogId);
    const seq = Math.max(dialog?.lastSeq ?? 0, thread?.messages.at(-1)?.seq ?? 0);
    if (seq === 0 || document.visibilityState === 'hidden') return;
    this.client.realtime.notify({ type: 'read', dialogId, seq });
    if (dialog && dialog.unreadCount !== 0) this.#replaceDialog({ ...dialog, unreadCount: 0 });
  }

  #replaceDialog(dialog: DialogBody): void {
    const dialogs = this.#state.dialogs.filter((entry) => entry.id !== dialog.id);
    this.#set({ dialogs: [...dialogs, dialog].sort(byActivity) });
  }

  #onMessage(dialogId: string, message: MessageBody, isNew: boolean): void {
    const thread = this.#state.threads[dialogId];
    if (thread) {
      const index = thread.messages.findIndex((entry) => entry.id === message.id);
      const messages = [...thread.messages];
      if (index >= 0) messages[index] = message;
      else if (isNew) messages.push(message);
      this.#setThread(dialogId, { ...thread, messages });
    }
    if (!isNew) return;
    if (message.senderId === this.me.id)
      this.#set({ pending: this.#state.pending.filter((entry) => entry.clientId !== message.clientId) });
    else this.client.realtime.notify({ type: 'delivered', dialogId, seq: message.seq });
    const dialog = this.#state.dialogs.find((entry) => entry.id === dialogId);
    if (!dialog) {
      void this.client.dialogs.get(dialogId).then(
        (fetched) => {
          this.#replaceDialog(fetched);
          this.#followPresence();
        },
        () => undefined,
      );
      return;
    }
    const fromOther = message.senderId !== this.me.id;
    const reading = this.#state.activeId === dialogId && document.visibilityState !== 'hidden';
    this.#replaceDialog({
      ...dialog,
      lastMessage: message,
      lastSeq: Math.max(dialog.lastSeq, message.seq),
      lastActivityAt: message.createdAt,
      unreadCount: fromOther && !reading ? dialog.unreadCount + 1 : dialog.unreadCount,
    });
    if (fromOther && reading) this.markRead(dialogId);
  }

  #patchMessage(dialogId: string, messageId: string, change: (message: MessageBody) => MessageBody): void {
    const thread = this.#state.threads[dialogId];
    if (!thread) return;
    this.#setThread(dialogId, {
      ...thread,
      messages: thread.messages.map((message) => (message.id === messageId ? change(message) : message)),
    });
  }

  /** Who is typing in a dialog now. */
  typingIn(dialogId: string): string[] {
    const now = Date.now();
    return Object.entries(this.#state.typing[dialogId] ?? {})
      .filter(([, until]) => until > now)
      .map(([userId]) => userId);
  }
}

function byActivity(a: DialogBody, b: DialogBody): number {
  return b.lastActivityAt.localeCompare(a.lastActivityAt);
}

/** Whether an error means the session is over (sign in again). */
export function sessionEnded(error: unknown): boolean {
  return (
    (error instanceof ParleyApiError && error.code === 'invalid_token') ||
    (error instanceof RealtimeError && error.code === 'unauthorized')
  );
}
