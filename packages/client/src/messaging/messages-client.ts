import type { MessageBody, MessageChange, Receipt, sendMessageBody } from '@parley/protocol';
import type { Requester } from '../account-client.ts';
import { path, withQuery } from '../rest/rest-path.ts';
import type { InputOf } from '../rest/schema-types.ts';
import { historyPages, type HistoryPage, type HistoryQuery } from './history-pages.ts';

/** `POST /v1/dialogs/{id}/messages`; the SDK picks a random `clientId` when none is given. */
export type SendMessageRequest = Omit<InputOf<typeof sendMessageBody>, 'clientId'> & { clientId?: string };

export type { MessageChange, Receipt };

/** Whose view a deletion changes: the caller's only, or everyone's (sender, or group owner/admin). */
export type DeletionScope = 'me' | 'everyone';

/** Messages of a dialog over REST: history, send, edit, delete, reactions and receipts. */
export class MessagesClient {
  readonly #rest: Requester;

  constructor(rest: Requester) {
    this.#rest = rest;
  }

  /**
   * One page of history, oldest first within the page: the newest page by default; `before`/`after` a seq
   * for older/newer, `around` a message id for its context, `at` a time to jump to.
   */
  history(dialogId: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    const at = query.at instanceof Date ? query.at.toISOString() : query.at;
    return this.#rest.request<HistoryPage>(
      'GET',
      withQuery(path`/v1/dialogs/${dialogId}/messages`, { ...query, at }),
    );
  }

  /** Pages going back in time from `before` (the newest when absent) to the first message the caller sees. */
  older(dialogId: string, options: { before?: number; limit?: number } = {}) {
    return historyPages((query) => this.history(dialogId, query), 'before', options.before, options.limit);
  }

  /** Pages going forward from `after` to the newest message now in the dialog. */
  newer(dialogId: string, options: { after: number; limit?: number }) {
    return historyPages((query) => this.history(dialogId, query), 'after', options.after, options.limit);
  }

  /**
   * Sends a message; answers after it is committed. Pass your own `clientId` to retry safely: a retry with
   * the same one answers the same message instead of sending it twice.
   */
  send(dialogId: string, message: SendMessageRequest): Promise<MessageBody> {
    const body = { ...message, clientId: message.clientId ?? globalThis.crypto.randomUUID() };
    return this.#rest.request<MessageBody>('POST', path`/v1/dialogs/${dialogId}/messages`, body);
  }

  /** Replaces the text of the caller's own message (within the tenant's edit window). */
  edit(dialogId: string, messageId: string, body: string): Promise<MessageChange> {
    return this.#rest.request<MessageChange>('PATCH', path`/v1/dialogs/${dialogId}/messages/${messageId}`, {
      body,
    });
  }

  /** Hides the message for the caller (`me`, the default) or deletes it for everyone. */
  delete(dialogId: string, messageId: string, scope: DeletionScope = 'me'): Promise<MessageChange> {
    return this.#rest.request<MessageChange>(
      'DELETE',
      withQuery(path`/v1/dialogs/${dialogId}/messages/${messageId}`, { for: scope }),
    );
  }

  /** Adds the caller's reaction: one emoji or a `:shortcode:` (idempotent). */
  react(dialogId: string, messageId: string, emoji: string): Promise<MessageChange> {
    return this.#reaction('PUT', dialogId, messageId, emoji);
  }

  /** Removes the caller's reaction (idempotent). */
  unreact(dialogId: string, messageId: string, emoji: string): Promise<MessageChange> {
    return this.#reaction('DELETE', dialogId, messageId, emoji);
  }

  #reaction(method: string, dialogId: string, messageId: string, emoji: string): Promise<MessageChange> {
    return this.#rest.request<MessageChange>(
      method,
      path`/v1/dialogs/${dialogId}/messages/${messageId}/reactions/${emoji}`,
    );
  }

  /** Read receipt: everything up to `seq` is read (and so delivered). */
  async markRead(dialogId: string, seq: number): Promise<void> {
    await this.#rest.request<undefined>('POST', path`/v1/dialogs/${dialogId}/read`, { seq });
  }

  /** Delivered receipt: everything up to `seq` reached one of the caller's devices. */
  async markDelivered(dialogId: string, seq: number): Promise<void> {
    await this.#rest.request<undefined>('POST', path`/v1/dialogs/${dialogId}/delivered`, { seq });
  }

  /** Each member's delivered and read positions ("seen by"). */
  async receipts(dialogId: string): Promise<Receipt[]> {
    const answer = await this.#rest.request<{ receipts: Receipt[] }>(
      'GET',
      path`/v1/dialogs/${dialogId}/receipts`,
    );
    return answer.receipts;
  }
}
