import {
  MemoryTokenStore,
  type ParleyClientOptions,
  ParleyClient,
  type RealtimeClient,
  type RealtimeEvents,
  type WebSocketConstructor,
} from '@parley/client';
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import { json, newTenantOwner, ownerPassword, type SignedIn, signIn } from './identity-fixtures.ts';
import type { TestServer } from './start-server.ts';

/** A fetch that trusts the test server's self-signed certificate, recording every URL and form body. */
export function trustingFetch(ca: string | undefined) {
  const dispatcher = new Agent({ connect: { ca, servername: 'localhost' } });
  const calls: { url: string; body: string }[] = [];
  const fetch = (input: string | URL | Request, init: RequestInit = {}) => {
    const url = input instanceof Request ? input.url : input.toString();
    calls.push({ url, body: typeof init.body === 'string' ? init.body : '' });
    return undiciFetch(url, { ...init, dispatcher } as Parameters<
      typeof undiciFetch
    >[1]) as unknown as Promise<Response>;
  };
  const refreshes = () =>
    calls.filter(
      (call) => call.url.endsWith('/oauth/token') && call.body.includes('grant_type=refresh_token'),
    ).length;
  return { fetch, calls, refreshes, close: () => dispatcher.close() };
}

/** `ws` with the server's certificate trusted, as the SDK's `WebSocket` option (Node has no global one). */
export function trustingWebSocket(ca: string | undefined): WebSocketConstructor {
  return class TrustingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url, { ca });
    }
  };
}

/** Collects one frame type from a realtime client and lets a test await a frame matching a predicate. */
export class Inbox<K extends keyof RealtimeEvents> {
  readonly events: RealtimeEvents[K][] = [];
  readonly #waiters: { match: (event: RealtimeEvents[K]) => boolean; resolve: () => void }[] = [];
  readonly stop: () => void;

  constructor(client: RealtimeClient, type: K) {
    this.stop = client.on(type, (event) => {
      this.events.push(event);
      for (const waiter of [...this.#waiters]) {
        if (!waiter.match(event)) continue;
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    });
  }

  /** Resolves once a matching event has arrived (at once if one already did). */
  waitFor(match: (event: RealtimeEvents[K]) => boolean): Promise<void> {
    if (this.events.some(match)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }
}

/** Resolves at the client's next `connection` event in the given state. */
export function nextState(client: RealtimeClient, state: RealtimeEvents['connection']['state']) {
  return new Promise<RealtimeEvents['connection']>((resolve) => {
    const stop = client.on('connection', (event) => {
      if (event.state !== state) return;
      stop();
      resolve(event);
    });
  });
}

/** A tenant with two members, Alice (the owner) and Bob, and a short access-token lifetime. */
export interface ChatTenant {
  owner: SignedIn;
  bob: { userId: string; email: string; password: string };
  /** Creates a group dialog of Alice and Bob over REST; answers its id. */
  newDialog(name: string): Promise<string>;
}

export async function newChatTenant(
  server: TestServer,
  name: string,
  accessTokenTtlSeconds = 300,
): Promise<ChatTenant> {
  const owner = await newTenantOwner(server, name);
  const settings = await server.request(
    '/v1/tenant/settings',
    json({ accessTokenTtlSeconds }, owner.accessToken, 'PATCH'),
  );
  if (settings.status !== 200) throw new Error(`tenant settings: ${settings.text}`);
  const password = 'plum tree under the winter moon';
  const email = `bob-${owner.tenantId.slice(-6)}@live.example`;
  const created = await server.request(
    '/v1/users',
    json({ displayName: 'Bob', email, password, roles: ['member'] }, owner.accessToken),
  );
  if (created.status !== 201) throw new Error(`create user: ${created.text}`);
  const bob = { userId: created.json<{ userId: string }>().userId, email, password };
  // Made by the owner, Bob accepts the required purposes at a first sign-in, so every client of his works.
  await signIn(server, owner.tenantId, email, password);
  return {
    owner,
    bob,
    async newDialog(dialogName) {
      const dialog = await server.request(
        '/v1/dialogs',
        json({ type: 'group', name: dialogName, memberIds: [bob.userId] }, owner.accessToken),
      );
      if (dialog.status !== 201) throw new Error(`create dialog: ${dialog.text}`);
      return dialog.json<{ id: string }>().id;
    },
  };
}

/** An SDK client signed in as Alice or Bob (scopes profile and chat), its realtime not yet connected. */
export async function signedInSdk(
  server: TestServer,
  tenant: ChatTenant,
  who: 'alice' | 'bob',
  realtime: ParleyClientOptions['realtime'] = {},
) {
  const http = trustingFetch(server.ca);
  const tokens = new MemoryTokenStore();
  const client = new ParleyClient({
    baseUrl: server.url,
    fetch: http.fetch,
    tokenStore: tokens,
    realtime: { WebSocket: trustingWebSocket(server.ca), ...realtime },
  });
  const signedIn = await client.auth.signIn({
    tenantId: tenant.owner.tenantId,
    username: who === 'alice' ? tenant.owner.email : tenant.bob.email,
    password: who === 'alice' ? ownerPassword : tenant.bob.password,
    scope: 'profile chat',
  });
  if (signedIn.mfaRequired) throw new Error('unexpected MFA challenge');
  // Bob was made by an admin: like any such user, he accepts the required purposes at his first sign-in.
  if (signedIn.notice === 'consent_required') await acceptOwedConsents(client);
  return { client, http, tokens };
}

/** Grants, through the SDK, every required purpose the signed-in user has not granted at its current version. */
export async function acceptOwedConsents(client: ParleyClient): Promise<void> {
  for (const { purpose, state } of await client.consents.list())
    if (purpose.required && state !== 'granted') await client.consents.grant(purpose.key, purpose.version);
}
