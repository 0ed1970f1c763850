import { performance } from 'node:perf_hooks';
import type { Scope } from '@parley/protocol';
import { json, memberPassword, type SignedIn, signIn } from './identity-fixtures.ts';
import type { Frame, Socket } from './realtime-socket.ts';
import type { TestServer } from './start-server.ts';

/** When (performance.now(), at the client) and with which code a socket closed. */
export function closeOf(socket: Socket): Promise<{ code: number; at: number }> {
  return socket.closed.then(([code]) => ({ code, at: performance.now() }));
}

/** Wall-clock time of the close, to compare with times the server stored (expiry, last use). */
export function wallCloseOf(socket: Socket): Promise<{ code: number; at: number }> {
  return socket.closed.then(([code]) => ({ code, at: Date.now() }));
}

export const carries =
  (text: string) =>
  (frame: Frame): boolean =>
    frame.type === 'message.new' && JSON.stringify(frame).includes(text);

export async function sendText(
  server: TestServer,
  token: string,
  dialogId: string,
  text: string,
): Promise<void> {
  const sent = await server.request(
    `/v1/dialogs/${dialogId}/messages`,
    json({ clientId: `c-${Math.random().toString(36).slice(2)}`, body: text }, token),
  );
  if (sent.status !== 201) throw new Error(`send failed: ${sent.status} ${sent.text}`);
}

export interface Victim {
  userId: string;
  email: string;
  /** The session whose sockets must close. */
  token: string;
  refreshToken: string;
  /** A group dialog of the owner and this user. */
  dialogId: string;
}

/** A member created by the owner, signed in, in a new group dialog with the owner. */
export async function newVictim(
  server: TestServer,
  owner: SignedIn,
  name: string,
  roles: string[] = ['member'],
): Promise<Victim> {
  const email = `${name}-${Math.random().toString(36).slice(2, 8)}@ended.example`;
  const created = await server.request(
    '/v1/users',
    json({ displayName: name, email, password: memberPassword, roles }, owner.accessToken),
  );
  if (created.status !== 201) throw new Error(`user creation failed: ${created.text}`);
  const userId = created.json<{ userId: string }>().userId;
  const tokens = await signIn(server, owner.tenantId, email, memberPassword, 'profile chat');
  const dialog = await server.request(
    '/v1/dialogs',
    json({ type: 'group', name: `With ${name}`, memberIds: [userId] }, owner.accessToken),
  );
  if (dialog.status !== 201) throw new Error(`dialog creation failed: ${dialog.text}`);
  return {
    userId,
    email,
    token: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    dialogId: dialog.json<{ id: string }>().id,
  };
}

/** A fresh session for a user, issued by the session service (no argon2: for many trials). */
export async function issueSession(
  server: TestServer,
  tenantId: string,
  userId: string,
  scopes: Scope[] = ['profile', 'chat'],
): Promise<string> {
  const issued = await server.app.storage.withTenant(tenantId, (tx) =>
    server.app.services.sessions.issue(tx, { tenantId, userId, clientId: null, scopes, device: null }),
  );
  return issued.accessToken;
}

/** The stored expiry and last use of a session, by its access token's owner (the newest session). */
export async function storedSession(
  server: TestServer,
  tenantId: string,
  userId: string,
): Promise<{ accessExpiresAt: number; lastUsedAt: number }> {
  const row = await server.app.storage.withTenant(tenantId, (tx) =>
    tx
      .selectFrom('sessions')
      .select(['access_expires_at', 'last_used_at'])
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .executeTakeFirstOrThrow(),
  );
  return { accessExpiresAt: row.access_expires_at, lastUsedAt: row.last_used_at };
}
