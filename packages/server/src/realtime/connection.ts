import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { type ClientFrame, clientFrame, closeCodes, type ServerFrame } from '@parley/protocol';
import type { WebSocket } from 'ws';
import type { Principal, SessionGrant } from '../identity/session-service.ts';
import type { UserHint } from '../messaging/message-fanout.ts';
import type { Logger } from '../observability/logger.ts';
import { PRESENCE_TTL_MS } from '../presence/presence-service.ts';
import type { SharedStreamPage, StreamItem } from '../messaging/message-stream.ts';
import { visibleItems } from '../messaging/message-stream.ts';
import type { DeliveryHub, HubConnection } from './delivery-hub.ts';
import { dispatchFrame, type FrameContext } from './frame-dispatch.ts';
import { PresenceFollower } from './presence-follower.ts';
import type { RealtimeServices } from './realtime-services.ts';
import type { SessionSockets } from './session-sockets.ts';

export interface RealtimeLimits {
  authTimeoutMs: number;
  /** Past this many bytes waiting to be sent, the client is too slow: close with `resume`. */
  sendBufferBytes: number;
  /** Token bucket: sustained frames per second, and the burst allowed. */
  framesPerSecond: number;
  /** Invalid or throttled frames tolerated before the socket is closed. */
  maxViolations: number;
}

export interface ConnectionDeps {
  services: RealtimeServices;
  hub: DeliveryHub;
  epoch: string;
  logger: Logger;
  limits: RealtimeLimits;
  /** This node's sockets by session: evictions close or re-check them before the node acknowledges. */
  sessionSockets: SessionSockets;
}

const REPLAY_PAGE = 200;
/**
 * Frames read and not yet handled, at most (count and bytes): past either, the socket is no longer read
 * until its backlog is handled, so a client writing while its frame waits fills its own buffers, not ours.
 */
const BACKLOG_FRAMES = 128;
const BACKLOG_BYTES = 1024 * 1024;
/** setTimeout's largest delay; a later deadline is approached in steps. */
const MAX_TIMER_MS = 2_147_483_647;

/** What a socket's principal must hold to receive anything (checked at sign-in and after a role change). */
function mayRead(principal: Principal): boolean {
  return principal.scopes.has('chat') && principal.permissions.has('dialogs.read');
}

/** A shared page's frames are the same for every socket: serialise each once. */
const serializedItems = new WeakMap<StreamItem, string>();
function serialized(item: StreamItem, dialogId: string, epoch: string): string {
  let text = serializedItems.get(item);
  if (text === undefined) {
    text = JSON.stringify({ ...item, dialogId, epoch } satisfies ServerFrame);
    serializedItems.set(item, text);
  }
  return text;
}

/**
 * The frame as a JSON object, or undefined for anything else: binary, not JSON, or JSON that is not an
 * object (`null`, a number, a string, an array), all of which are `malformed_frame`.
 */
function parseFrameObject(text: string | null): Record<string, unknown> | undefined {
  if (text === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}

/**
 * One client socket. Frames are handled strictly in arrival order, and deliveries per dialog are
 * gap-free and duplicate-free: a hint or a resume only ever sends sequence numbers above what this socket
 * already delivered, read from the database in order.
 */
export class RealtimeConnection implements HubConnection {
  #principal: Principal | undefined;
  #token = '';
  readonly #id = randomUUID();
  #unsubscribe: (() => Promise<void>) | undefined;
  #presence: PresenceFollower | undefined;
  #renewal: NodeJS.Timeout | undefined;
  readonly #delivered = new Map<string, number>();
  #queue: Promise<void> = Promise.resolve();
  #allowance: number;
  #lastRefill = Date.now();
  #violations = 0;
  readonly #authTimer: NodeJS.Timeout;
  /** Removes this socket from the node's registry of sessions' sockets. */
  #forget: (() => void) | undefined;
  /** Fires at the earlier of the token's expiry and the session's idle deadline. */
  #deadline: NodeJS.Timeout | undefined;
  /** Set by an eviction that changed the principal: re-validated before the next delivery. */
  #stale = false;
  /** The session ended: nothing more is read or written for this socket. */
  #ended = false;

  #corked = false;
  /** Frames read and not yet handled, and their bytes (see BACKLOG_FRAMES). */
  #backlogFrames = 0;
  #backlogBytes = 0;
  /**
   * Whether this socket's presence was registered: `pending` while sign-in registers it. A socket that
   * closes meanwhile is unregistered by the sign-in once its registration is done, not by the close handler
   * (which would run first and leave the registration, and its renewal timer, behind).
   */
  #presenceState: 'none' | 'pending' | 'done' = 'none';

  constructor(
    private readonly ws: WebSocket,
    /** The TLS socket under `ws`, corked while a turn's frames are written. */
    private readonly socket: Pick<Writable, 'cork' | 'uncork'>,
    private readonly deps: ConnectionDeps,
  ) {
    this.#allowance = deps.limits.framesPerSecond * 2;
    this.#authTimer = setTimeout(() => {
      if (!this.#principal) ws.close(closeCodes.authTimeout, 'authentication timeout');
    }, deps.limits.authTimeoutMs);
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary) => {
      // Closing (a bad first frame or token, abuse, an ended session): nothing more is handled, so frames
      // queued behind the one that closed it cost nothing (each auth frame would be a database lookup).
      if (ws.readyState !== ws.OPEN) return;
      const text = isBinary
        ? null
        : Buffer.isBuffer(data)
          ? data.toString('utf8')
          : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
      const bytes = text === null ? 0 : text.length;
      this.#backlogFrames += 1;
      this.#backlogBytes += bytes;
      if (this.#backlogFrames >= BACKLOG_FRAMES || this.#backlogBytes >= BACKLOG_BYTES) ws.pause();
      this.#enqueue(async () => {
        try {
          if (ws.readyState === ws.OPEN) await this.#onMessage(text);
        } finally {
          this.#backlogFrames -= 1;
          this.#backlogBytes -= bytes;
          if (
            ws.isPaused &&
            this.#backlogFrames < BACKLOG_FRAMES / 2 &&
            this.#backlogBytes < BACKLOG_BYTES / 2
          )
            ws.resume();
        }
      });
    });
    ws.on('close', () => {
      clearTimeout(this.#authTimer);
      clearTimeout(this.#deadline);
      this.#forget?.();
      clearInterval(this.#renewal);
      void this.#unsubscribe?.().catch(() => undefined);
      void this.#presence?.close().catch(() => undefined);
      const principal = this.#principal;
      if (principal?.userId)
        void this.deps.services.calls
          .deviceGone({ tenantId: principal.tenantId, userId: principal.userId, deviceId: this.#id })
          .catch((error: unknown) => {
            this.deps.logger.warn({ err: error }, 'leaving calls failed');
          });
      if (principal?.userId && this.#presenceState === 'done') this.#leavePresence(principal);
    });
  }

  #leavePresence(principal: Principal): void {
    if (principal.userId === null) return;
    void this.deps.services.presence
      .disconnected(principal.tenantId, principal.userId, this.#id)
      .catch((error: unknown) => {
        this.deps.logger.warn({ err: error }, 'presence update failed');
      });
  }

  #enqueue(work: () => Promise<void>): void {
    this.#queue = this.#queue.then(work).catch((error: unknown) => {
      this.deps.logger.error({ err: error }, 'realtime frame failed');
    });
  }

  #send(frame: ServerFrame): void {
    this.#sendText(JSON.stringify(frame));
  }

  #sendText(text: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.deps.limits.sendBufferBytes) {
      this.ws.close(closeCodes.resume, 'send buffer full: reconnect and resume');
      return;
    }
    // Frames written in one turn (a page of messages, several acks) leave in one TLS write, not one each.
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.socket.uncork();
      });
    }
    this.ws.send(text);
  }

  /** Token bucket; every refused frame or invalid frame counts as a violation. */
  #takeToken(): boolean {
    const now = Date.now();
    const { framesPerSecond } = this.deps.limits;
    this.#allowance = Math.min(
      framesPerSecond * 2,
      this.#allowance + ((now - this.#lastRefill) / 1000) * framesPerSecond,
    );
    this.#lastRefill = now;
    if (this.#allowance < 1) return false;
    this.#allowance -= 1;
    return true;
  }

  #violation(code: string, message: string, id?: string): void {
    this.#violations += 1;
    this.#send({ type: 'error', ...(id === undefined ? {} : { id }), code, message });
    if (this.#violations >= this.deps.limits.maxViolations)
      this.ws.close(closeCodes.rateLimited, 'too many bad frames');
  }

  async #onMessage(text: string | null): Promise<void> {
    const parsed = parseFrameObject(text);
    if (!this.#takeToken()) {
      // The frame's id, when it has one, so the client knows which request to retry later.
      const id = parsed?.id;
      this.#violation('rate_limited', 'Too many frames; slow down.', typeof id === 'string' ? id : undefined);
      return;
    }
    if (parsed === undefined) {
      this.#violation('malformed_frame', 'Frames are JSON objects sent as text.');
      return;
    }
    const frame = clientFrame.safeParse(parsed);
    if (!frame.success) {
      const id = parsed.id;
      this.#violation(
        'invalid_frame',
        `Invalid frame: ${frame.error.issues[0]?.path.join('.') ?? ''} ${frame.error.issues[0]?.message ?? ''}`.trim(),
        typeof id === 'string' ? id : undefined,
      );
      return;
    }
    if (!this.#principal) {
      await this.#authenticate(frame.data);
      return;
    }
    if (this.#ended) return;
    // Re-checked on every frame (a cache hit). Every frame but `ping` is a use of the session: a ping is
    // the client's liveness probe, and counting it would keep an unattended session alive for ever.
    const current = await this.deps.services.sessions.validate(this.#token, {
      touch: frame.data.type !== 'ping',
    });
    if (typeof current === 'string') {
      this.#end('token no longer valid');
      return;
    }
    await this.#dispatch(current.principal, frame.data);
  }

  /** Fully closed: the close handler has run (a method, so a check made before an await is not reused). */
  #closed(): boolean {
    return this.ws.readyState === this.ws.CLOSED;
  }

  /** The session ended (revoked, expired, idle): close with 4001; queued deliveries find the socket shut. */
  #end(reason: string): void {
    this.#ended = true;
    clearTimeout(this.#deadline);
    this.ws.close(closeCodes.unauthorized, reason);
  }

  /**
   * Times the next check of the session: at the token's expiry or the session's idle deadline, whichever
   * comes first, so an expired or idle session closes its socket even while the client sends nothing.
   */
  #armDeadline(grant: SessionGrant): void {
    clearTimeout(this.#deadline);
    // A closed socket's close handler has run: a timer armed now would outlive it (re-armed for as long as
    // the session lives).
    if (this.#ended || this.#closed()) return;
    const at = Math.min(grant.accessExpiresAt, grant.lastUsedAt + grant.idleTimeoutMs);
    this.#deadline = setTimeout(
      () => {
        void this.#checkDeadline().catch((error: unknown) => {
          this.deps.logger.warn({ err: error }, 'session check failed');
        });
      },
      Math.min(Math.max(at - grant.checkedAt, 0), MAX_TIMER_MS),
    );
    this.#deadline.unref();
  }

  /**
   * At a deadline: not a use of the session. An idle session is ended here as the next request would end
   * it (which closes its sockets on every node); a session used meanwhile, elsewhere too, gets a new timer.
   */
  async #checkDeadline(): Promise<void> {
    if (this.#ended) return;
    const grant = await this.deps.services.sessions.validate(this.#token, { touch: false });
    if (typeof grant === 'string') this.#end(grant === 'expired' ? 'token expired' : 'session ended');
    else this.#armDeadline(grant);
  }

  /**
   * The principal to deliver under, or undefined when nothing may be delivered. After an eviction that
   * changed the principal (roles, custom role permissions), it is validated again first.
   */
  async #deliverable(): Promise<Principal | undefined> {
    if (this.#ended || this.ws.readyState !== this.ws.OPEN) return undefined;
    if (!this.#stale) return this.#principal;
    this.#stale = false;
    // Should the session end during this check, the socket is already closing and nothing below writes.
    const grant = await this.deps.services.sessions.validate(this.#token, { touch: false });
    if (typeof grant === 'string') {
      this.#end('session ended');
      return undefined;
    }
    if (!mayRead(grant.principal)) {
      this.#ended = true;
      clearTimeout(this.#deadline);
      this.ws.close(closeCodes.forbidden, 'the session may no longer read dialogs');
      return undefined;
    }
    this.#principal = grant.principal;
    this.#armDeadline(grant);
    return grant.principal;
  }

  async #authenticate(frame: ClientFrame): Promise<void> {
    if (frame.type !== 'auth') {
      this.ws.close(closeCodes.unauthorized, 'the first frame must be auth');
      return;
    }
    const { sessions } = this.deps.services;
    const first = await sessions.validate(frame.token);
    if (typeof first === 'string' || first.principal.userId === null) {
      this.ws.close(closeCodes.unauthorized, 'invalid token');
      return;
    }
    if (!mayRead(first.principal)) {
      this.ws.close(closeCodes.forbidden, 'the token lacks the chat scope');
      return;
    }
    clearTimeout(this.#authTimer);
    // Registered before the check below: an eviction from now on reaches this socket, and one that landed
    // while `validate` read the database is caught by validating again (the cache kept nothing it read).
    this.#forget = this.deps.sessionSockets.add(first.principal, {
      end: () => {
        this.#end('session ended');
      },
      recheck: () => {
        this.#stale = true;
      },
    });
    if (this.ws.readyState !== this.ws.OPEN) {
      this.#forget(); // closed meanwhile: the close handler ran before there was anything to forget
      return;
    }
    const grant = await sessions.validate(frame.token, { touch: false });
    if (this.#ended || this.#closed()) return;
    if (typeof grant === 'string') {
      this.#end('invalid token');
      return;
    }
    const result = grant.principal;
    const userId = first.principal.userId;
    this.#principal = result;
    this.#token = frame.token;
    this.#armDeadline(grant);
    const { services } = this.deps;
    try {
      this.#unsubscribe = await this.deps.hub.attach(result.tenantId, userId, this);
    } catch (error) {
      // Signed in but unable to receive (the bus is down): close, and the client reconnects and resumes.
      this.deps.logger.warn({ err: error }, 'realtime subscription failed');
      this.#ended = true;
      clearTimeout(this.#deadline);
      this.ws.close(closeCodes.tryAgainLater, 'temporarily unavailable: reconnect and resume');
      return;
    }
    // Ended (or gone) while attaching: the close handler ran before there was anything to detach.
    if (this.#closed()) {
      await this.#unsubscribe();
      return;
    }
    this.#presence = new PresenceFollower(services.presence, result.tenantId, userId, (frame) => {
      this.#send(frame);
    });
    this.#send({ type: 'ready', userId, deviceId: this.#id, epoch: this.deps.epoch, heartbeatMs: 25_000 });
    // Within this task, so no live hint (queued behind it) can start a dialog past the client's position.
    if (frame.positions) await this.#dispatch(result, { type: 'resume', positions: frame.positions });
    // Closed during the resume: the close handler has run; nothing is registered that would outlive it.
    if (this.#closed()) return;
    this.#presenceState = 'pending';
    await services.presence.connected(result.tenantId, userId, this.#id).catch((error: unknown) => {
      this.deps.logger.warn({ err: error }, 'presence update failed');
    });
    this.#presenceState = 'done';
    // Closed while registering: the close handler left the registration to this task.
    if (this.#closed()) {
      this.#leavePresence(result);
      return;
    }
    this.#renewal = setInterval(() => {
      void services.presence.renewed(result.tenantId, userId, this.#id).catch(() => undefined);
    }, PRESENCE_TTL_MS / 3);
    this.#renewal.unref();
  }

  position(dialogId: string): number | undefined {
    return this.#delivered.get(dialogId);
  }

  deliverShared(dialogId: string, page: SharedStreamPage, pageAfter: number, startAfter: number): void {
    this.#enqueue(async () => {
      const principal = await this.#deliverable();
      if (!principal?.userId) return;
      let known = this.#delivered.get(dialogId) ?? startAfter;
      // Behind the shared page (it was read for readers further on): catch up from the database first.
      if (known < pageAfter) {
        this.#delivered.set(dialogId, known);
        await this.#deliver(dialogId, pageAfter);
        known = this.#delivered.get(dialogId) ?? known;
      }
      const viewer = page.viewers.get(principal.userId);
      if (!viewer) return; // not a reader of this dialog (any more)
      for (const item of visibleItems(page.items, viewer)) {
        if (item.seq > known) this.#sendText(serialized(item, dialogId, this.deps.epoch));
      }
      this.#delivered.set(dialogId, Math.max(known, page.upTo));
    });
  }

  signal(hint: Exclude<UserHint, { kind: 'seq' }>): void {
    this.#enqueue(() => this.#onHint(hint));
  }

  async #onHint(hint: Exclude<UserHint, { kind: 'seq' }>): Promise<void> {
    if (!(await this.#deliverable())) return;
    switch (hint.kind) {
      case 'receipt':
        this.#send({
          type: 'receipt',
          dialogId: hint.dialogId,
          userId: hint.userId,
          deliveredSeq: hint.deliveredSeq,
          readSeq: hint.readSeq,
        });
        break;
      case 'typing':
        this.#send({ type: 'typing', dialogId: hint.dialogId, userId: hint.userId, state: hint.state });
        break;
      case 'call':
        if (hint.deviceId === undefined || hint.deviceId === this.#id) this.#send(hint.frame);
        break;
    }
  }

  async #dispatch(principal: Principal, frame: ClientFrame): Promise<void> {
    const context: FrameContext = {
      services: this.deps.services,
      deviceId: this.#id,
      epoch: this.deps.epoch,
      send: (out) => {
        this.#send(out);
      },
      resumeFrom: async (dialogId, seq) => {
        this.#delivered.set(dialogId, Math.max(this.#delivered.get(dialogId) ?? 0, seq));
        await this.#deliver(dialogId, Number.MAX_SAFE_INTEGER);
      },
      followPresence: async (userIds) => {
        await this.#presence?.follow(userIds);
      },
    };
    await dispatchFrame(context, principal, frame);
  }

  /** Sends, in order, every change of the dialog above what this socket delivered, up to `seq`. */
  async #deliver(dialogId: string, seq: number): Promise<void> {
    const principal = this.#principal;
    if (this.#ended || !principal?.userId) return;
    const known = this.#delivered.get(dialogId);
    // A live hint for a dialog this socket has not seen: start at that change.
    let after = known ?? seq - 1;
    if (seq <= after) return;
    for (;;) {
      const page = await this.deps.services.stream.after(
        principal.tenantId,
        principal.userId,
        dialogId,
        after,
        REPLAY_PAGE,
      );
      if (!page.readable) return; // no longer a member: nothing to deliver
      for (const item of page.items) this.#send({ ...item, dialogId, epoch: this.deps.epoch });
      after = Math.max(after, page.upTo);
      this.#delivered.set(dialogId, after);
      if (!page.more || after >= seq) return;
    }
  }
}
