import type { BlockedUser } from '@parley/protocol';
import type { Requester } from '../account-client.ts';
import { path } from '../rest/rest-path.ts';

export type { BlockedUser };

/**
 * The caller's block list (needs the `profile` scope). A block stops private messages and typing between the
 * two users, and hides each one's presence from the other.
 */
export class BlocksClient {
  readonly #rest: Requester;

  constructor(rest: Requester) {
    this.#rest = rest;
  }

  async list(): Promise<BlockedUser[]> {
    return (await this.#rest.request<{ blocks: BlockedUser[] }>('GET', '/v1/me/blocks')).blocks;
  }

  /** Blocks a user (idempotent). */
  async block(userId: string): Promise<void> {
    await this.#rest.request<undefined>('PUT', path`/v1/me/blocks/${userId}`);
  }

  /** Unblocks a user. */
  async unblock(userId: string): Promise<void> {
    await this.#rest.request<undefined>('DELETE', path`/v1/me/blocks/${userId}`);
  }
}
