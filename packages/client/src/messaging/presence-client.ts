import type { PresenceView, PresenceVisibility } from '@parley/protocol';
import type { Requester } from '../account-client.ts';
import { path } from '../rest/rest-path.ts';

export type { PresenceView, PresenceVisibility };

/** Presence over REST; live changes come as `presence` frames after `presence.subscribe` on the realtime channel. */
export class PresenceClient {
  readonly #rest: Requester;

  constructor(rest: Requester) {
    this.#rest = rest;
  }

  /** A user's presence and last activity; `not_found` when their setting (or a block) hides it from you. */
  of(userId: string): Promise<PresenceView> {
    return this.#rest.request<PresenceView>('GET', path`/v1/users/${userId}/presence`);
  }

  /** Sets who sees the caller's presence (needs the `profile` scope). */
  async setVisibility(visibility: PresenceVisibility): Promise<void> {
    await this.#rest.request<undefined>('PUT', '/v1/me/presence-visibility', { visibility });
  }
}
