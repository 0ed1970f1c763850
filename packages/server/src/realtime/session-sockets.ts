import type { Eviction } from '../identity/sessions/revocation-broadcast.ts';

/** What the registry may ask of a live, authenticated socket. */
export interface SessionSocket {
  /** The session is over: close with 4001 now, so no later write reaches the client. */
  end(): void;
  /** The principal may have changed (roles, permissions): check it again before the next delivery. */
  recheck(): void;
}

interface Entry {
  tenantId: string;
  sessionId: string;
}

/**
 * This node's authenticated sockets, by session and by tenant, so an eviction (announced over the bus and
 * applied by every node before it acknowledges) reaches the sockets it concerns in the same synchronous
 * step as the principal cache. Ended sessions close their sockets before the revoking call returns.
 */
export class SessionSockets {
  readonly #bySession = new Map<string, Set<SessionSocket>>();
  readonly #byTenant = new Map<string, Set<SessionSocket>>();
  readonly #entries = new Map<SessionSocket, Entry>();

  get size(): number {
    return this.#entries.size;
  }

  /** Registers a socket; returns the function that forgets it (call it when the socket closes). */
  add(entry: Entry, socket: SessionSocket): () => void {
    this.#entries.set(socket, entry);
    addTo(this.#bySession, entry.sessionId, socket);
    addTo(this.#byTenant, entry.tenantId, socket);
    return () => {
      if (!this.#entries.delete(socket)) return;
      removeFrom(this.#bySession, entry.sessionId, socket);
      removeFrom(this.#byTenant, entry.tenantId, socket);
    };
  }

  /** Applies one eviction to the local sockets; synchronous, so it is done before the node acknowledges. */
  apply(eviction: Eviction): void {
    // A rotated token: the session goes on, and each socket keeps the lifetime of the token it signed in with.
    if (eviction.effect === 'replaced') return;
    const targets = new Set<SessionSocket>();
    for (const sessionId of eviction.sessionIds ?? [])
      for (const socket of this.#bySession.get(sessionId) ?? []) targets.add(socket);
    if (eviction.tenantId !== undefined)
      for (const socket of this.#byTenant.get(eviction.tenantId) ?? []) targets.add(socket);
    if (eviction.everyone === true) for (const socket of this.#entries.keys()) targets.add(socket);
    for (const socket of targets) {
      if (eviction.effect === 'ended') socket.end();
      else socket.recheck();
    }
  }
}

function addTo(index: Map<string, Set<SessionSocket>>, key: string, socket: SessionSocket): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(socket);
}

function removeFrom(index: Map<string, Set<SessionSocket>>, key: string, socket: SessionSocket): void {
  const set = index.get(key);
  set?.delete(socket);
  if (set?.size === 0) index.delete(key);
}
