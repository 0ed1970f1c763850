import type { createDialogBody, DialogBody, DialogsPage, UpdateDialogBody } from '@parley/protocol';
import type { Requester } from '../account-client.ts';
import { itemsOf, type PageOptions } from '../rest/cursor-pages.ts';
import { path, withQuery } from '../rest/rest-path.ts';
import type { InputOf } from '../rest/schema-types.ts';

/** `POST /v1/dialogs`: `memberIds` (the others; exactly one for `private`) and `hideHistory` may be left out. */
export type CreateDialogRequest = InputOf<typeof createDialogBody>;

/** One page of `GET /v1/dialogs`, by last activity (newest first). */
export type DialogPage = DialogsPage;

/**
 * How to leave a dialog: `leave` (the member goes; a private dialog stays for the other), `clear` (history
 * deleted for me, membership kept), `everyone` (the owner deletes the dialog for all).
 */
export type DialogRemoval = 'leave' | 'clear' | 'everyone';

/** A member's role as the owner sets it. */
export type MemberRole = 'admin' | 'member';

/** The caller's dialogs over REST (`/v1/dialogs`): create, list, read, change, leave or delete, membership. */
export class DialogsClient {
  readonly #rest: Requester;

  constructor(rest: Requester) {
    this.#rest = rest;
  }

  /** Creates a dialog; a private dialog with someone you already have one with answers the existing one. */
  create(request: CreateDialogRequest): Promise<DialogBody> {
    return this.#rest.request<DialogBody>('POST', '/v1/dialogs', request);
  }

  /** One page of the caller's dialogs (newest activity first), with last message and unread count. */
  list(options: PageOptions = {}): Promise<DialogPage> {
    return this.#rest.request<DialogPage>('GET', withQuery('/v1/dialogs', { ...options }));
  }

  /** Every dialog of the caller, page by page as the loop reads on: `for await (const d of dialogs.all())`. */
  all(options: PageOptions = {}): AsyncGenerator<DialogBody, void, undefined> {
    return itemsOf(
      (cursor) => this.list({ limit: options.limit, cursor }),
      (page) => page.dialogs,
      options.cursor,
    );
  }

  /** One dialog the caller may see (a member, or a public dialog); `not_found` otherwise. */
  get(dialogId: string): Promise<DialogBody> {
    return this.#rest.request<DialogBody>('GET', path`/v1/dialogs/${dialogId}`);
  }

  /**
   * Changes only the fields given (`null` clears a nullable one). Name, description, photo and custom data
   * need owner or admin; `muted` and `pinned` are the caller's own and anyone may set them.
   */
  update(dialogId: string, patch: UpdateDialogBody): Promise<DialogBody> {
    return this.#rest.request<DialogBody>('PATCH', path`/v1/dialogs/${dialogId}`, patch);
  }

  /** Mutes or unmutes the dialog for the caller. */
  mute(dialogId: string, muted = true): Promise<DialogBody> {
    return this.update(dialogId, { muted });
  }

  /** Pins or unpins the dialog for the caller. */
  pin(dialogId: string, pinned = true): Promise<DialogBody> {
    return this.update(dialogId, { pinned });
  }

  /** Leaves (default), clears the history for the caller, or deletes the dialog for everyone (owner). */
  async remove(dialogId: string, mode: DialogRemoval = 'leave'): Promise<void> {
    await this.#rest.request<undefined>('DELETE', withQuery(path`/v1/dialogs/${dialogId}`, { mode }));
  }

  leave(dialogId: string): Promise<void> {
    return this.remove(dialogId, 'leave');
  }

  /** Deletes the history for the caller only; the others keep theirs. */
  clearHistory(dialogId: string): Promise<void> {
    return this.remove(dialogId, 'clear');
  }

  /** Deletes the dialog for every member (owner only). */
  deleteForEveryone(dialogId: string): Promise<void> {
    return this.remove(dialogId, 'everyone');
  }

  /** Joins a public dialog. */
  join(dialogId: string): Promise<DialogBody> {
    return this.#rest.request<DialogBody>('POST', path`/v1/dialogs/${dialogId}/members/me`);
  }

  /** Adds members (owner/admin), up to the tenant's group size limit; answers the dialog after. */
  addMembers(dialogId: string, userIds: readonly string[]): Promise<DialogBody> {
    return this.#rest.request<DialogBody>('POST', path`/v1/dialogs/${dialogId}/members`, { userIds });
  }

  /** Removes a member (owner/admin; only the owner removes admins). */
  async removeMember(dialogId: string, userId: string): Promise<void> {
    await this.#rest.request<undefined>('DELETE', path`/v1/dialogs/${dialogId}/members/${userId}`);
  }

  /** Makes a member an admin, or an admin a plain member again (owner only). */
  async setRole(dialogId: string, userId: string, role: MemberRole): Promise<void> {
    await this.#rest.request<undefined>('PATCH', path`/v1/dialogs/${dialogId}/members/${userId}`, { role });
  }
}
