import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { type ClientFrame, closeCodes, type ServerFrame } from '@parley/protocol';
import type { WebSocket } from 'ws';
import type { Principal, SessionGrant } from '../identity/sessions/session-service.ts';
import type { SharedStreamPage } from '../messaging/message-stream.ts';
import type { Logger } from '../observability/logger.ts';
import type { RealtimeMetrics, SecurityMetrics } from '../observability/metrics.ts';
import type { Tracing } from '../observability/tracing.ts';
import type { DeliveryHub, HubConnection } from './delivery-hub.ts';
import { DialogDelivery } from './dialog-delivery.ts';
import { type AccessReader, readerOf } from '../compliance/access-log/access-record.ts';
import { dispatchFrame, type FrameContext } from './frame-dispatch.ts';
import { FrameIntake } from './frame-intake.ts';
import { FrameWriter } from './frame-writer.ts';
import { type ForwardedHint, hintFrame } from './hint-frames.ts';
import { PresenceFollower } from './presence-follower.ts';
import { PresenceRegistration } from './presence-registration.ts';
import type { RealtimeServices } from './realtime-services.ts';
import { SessionDeadline } from './session-deadline.ts';
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
  metrics: { realtime: RealtimeMetrics; security: Pick<SecurityMetrics, 'rateLimited'> };
  /** One span per frame handled (a no-op unless tracing is on). */
  tracing: Pick<Tracing, 'startFrame'>;
}

type AuthFrame = Extract<ClientFrame, { type: 'auth' }>;

/** Sends one socket may have waiting for their commit; the next waits for the oldest to finish. */
const MAX_SENDS_IN_FLIGHT = 64;

/** What a socket's principal must hold to receive anything (checked at sign-in and after a role change). */
function mayRead(principal: Principal): boolean {
  return principal.scopes.has('chat') && principal.permissions.has('dialogs.read');
}

/**
 * One client socket: the coordinator of its sign-in, frames, deliveries and teardown. The parts live beside
 * it (frame parsing, throttling, the read backlog, writes, the session deadline, presence, per-dialog
 * positions); this class decides when each runs. Its invariants:
 *
 * - Frames, deliveries and hints run one at a time on one queue, frames strictly in arrival order. A send
 *   leaves the queue once submitted (its ack follows its commit); any other frame waits for those acks.
 * - Once the session ended (`#ended`), nothing more is handled or delivered, and the socket is closing.
 * - Whatever sign-in registers (the session-socket registry entry, the hub subscription, presence, the
 *   deadline timer) is undone by the close handler, or by sign-in itself when the socket closed meanwhile:
 *   nothing registered outlives the socket.
 */
export class RealtimeConnection implements HubConnection {
  #principal: Principal | undefined;
  #token = '';
  readonly #id = randomUUID();
  #unsubscribe: (() => Promise<void>) | undefined;
  #presence: PresenceFollower | undefined;
  /** Set once sign-in starts registering presence (never for a socket that closed before that). */
  #presenceRegistration: PresenceRegistration | undefined;
  #queue: Promise<void> = Promise.resolve();
  readonly #authTimer: NodeJS.Timeout;
  /** Removes this socket from the node's registry of sessions' sockets. */
  #forget: (() => void) | undefined;
  readonly #deadline: SessionDeadline;
  /** Set by an eviction that changed the principal: re-validated before the next delivery. */
  #stale = false;
  /** The session ended: nothing more is read or written for this socket. */
  #ended = false;
  readonly #writer: FrameWriter;
  readonly #deliveries: DialogDelivery;
  #accessReader: { principal: Principal; reader: AccessReader } | undefined;
  /** Sends submitted and not yet acknowledged or refused (see `#onFrame`). */
  readonly #sendsInFlight = new Set<Promise<void>>();

  constructor(
    private readonly ws: WebSocket,
    /** The TLS socket under `ws`, corked while a turn's frames are written. */
    socket: Pick<Writable, 'cork' | 'uncork'>,
    private readonly deps: ConnectionDeps,
  ) {
    const { limits, services } = deps;
    this.#writer = new FrameWriter(ws, socket, limits.sendBufferBytes, deps.metrics.realtime);
    this.#deadline = new SessionDeadline({
      check: () => services.sessions.validate(this.#token, { touch: false }),
      end: (reason) => {
        this.#end(reason);
      },
      logger: deps.logger,
    });
    this.#deliveries = new DialogDelivery({
      stream: services.stream,
      epoch: deps.epoch,
      writer: this.#writer,
      reader: () => (this.#ended ? undefined : this.#principal),
      onDelivered: (dialogId, fromSeq, toSeq) => {
        this.#recordDelivery(dialogId, fromSeq, toSeq);
      },
    });
    this.#authTimer = setTimeout(() => {
      if (!this.#principal) ws.close(closeCodes.authTimeout, 'authentication timeout');
    }, limits.authTimeoutMs);
    new FrameIntake({
      ws,
      writer: this.#writer,
      limits,
      metrics: deps.metrics,
      enqueue: (work) => {
        this.#enqueue(work);
      },
      handle: (frame) => this.#onFrame(frame),
    }).listen();
    ws.on('close', () => {
      this.#onClose();
    });
  }

  /** The access log's reader for the current principal, made once per principal (the delivery hot path). */
  #recordDelivery(dialogId: string, fromSeq: number, toSeq: number): void {
    const recorder = this.deps.services.accessLog?.recorder;
    const principal = this.#principal;
    if (!recorder || !principal) return;
    if (this.#accessReader?.principal !== principal)
      this.#accessReader = { principal, reader: readerOf(principal) };
    recorder.delivered(principal.tenantId, this.#accessReader.reader, dialogId, fromSeq, toSeq);
  }

  /** This socket's id (the device id its `ready` frame names), for log lines. */
  get id(): string {
    return this.#id;
  }

  /** The tenant signed in on this socket, once it has; for log lines (a tenant id is not personal data). */
  get tenantId(): string | undefined {
    return this.#principal?.tenantId;
  }

  /** Undoes everything sign-in registered (see the class invariants); runs once, when the socket closed. */
  #onClose(): void {
    clearTimeout(this.#authTimer);
    this.#deadline.stop();
    this.#forget?.();
    void this.#unsubscribe?.().catch(() => undefined);
    void this.#presence?.close().catch(() => undefined);
    const principal = this.#principal;
    if (principal?.userId)
      void this.deps.services.calls
        .deviceGone({ tenantId: principal.tenantId, userId: principal.userId, deviceId: this.#id })
        .catch((error: unknown) => {
          this.deps.logger.warn({ err: error }, 'leaving calls failed');
        });
    this.#presenceRegistration?.release();
  }

  /** Runs `work` after everything queued before it: the one place frames, deliveries and hints are ordered. */
  #enqueue(work: () => Promise<void>): void {
    this.#queue = this.#queue.then(work).catch((error: unknown) => {
      this.deps.logger.error({ err: error }, 'realtime frame failed');
    });
  }

  #send(frame: ServerFrame): void {
    this.#writer.send(frame);
  }

  /** A valid frame, in arrival order: the auth frame first, then each checked against the session. */
  async #onFrame(frame: ClientFrame): Promise<void> {
    if (!this.#principal) {
      const span = this.deps.tracing.startFrame(frame.type);
      let signedIn: boolean;
      try {
        signedIn = await span.run(async () => {
          await this.#authenticate(frame);
          return this.#principal !== undefined;
        });
      } catch (error) {
        span.end(true);
        throw error;
      }
      if (!signedIn) span.refused('unauthorized');
      span.end();
      return;
    }
    if (this.#ended) return;
    const send = frame.type === 'message.send';
    const started = performance.now();
    // Any other frame waits until this socket's sends are acknowledged: it sees them committed.
    if (!send) await this.#settleSends();
    else if (this.#sendsInFlight.size >= MAX_SENDS_IN_FLIGHT) await Promise.race(this.#sendsInFlight);
    // Re-checked on every frame (a cache hit). Every frame but `ping` is a use of the session: a ping is
    // the client's liveness probe, and counting it would keep an unattended session alive for ever.
    const current = await this.deps.services.sessions.validate(this.#token, {
      touch: frame.type !== 'ping',
    });
    if (typeof current === 'string') {
      this.#end('token no longer valid');
      return;
    }
    // The principal may have lost the right to read since sign-in (a role change, consent withdrawn or owed):
    // nothing more is handled, as no delivery would be made either.
    if (!mayRead(current.principal)) {
      this.#shut(closeCodes.forbidden, 'the session may no longer read dialogs');
      return;
    }
    if (!send) {
      await this.#dispatch(current.principal, frame);
      return;
    }
    // Pipelined: the send reaches the commit batcher synchronously inside `#dispatch` (so sends keep their
    // arrival order), and the next frame is read without waiting for the commit; the ack follows it. One
    // client's burst then shares a transaction instead of paying one commit per message.
    const done: Promise<void> = this.#dispatch(current.principal, frame)
      .catch((error: unknown) => {
        this.deps.logger.error({ err: error }, 'realtime frame failed');
      })
      .finally(() => {
        this.deps.metrics.realtime.sendAcked((performance.now() - started) / 1000);
        this.#sendsInFlight.delete(done);
      });
    this.#sendsInFlight.add(done);
  }

  /** Resolves once every send this socket has in flight was acknowledged (or refused). */
  async #settleSends(): Promise<void> {
    while (this.#sendsInFlight.size > 0) await Promise.all(this.#sendsInFlight);
  }

  /** Fully closed: the close handler has run (a method, so a check made before an await is not reused). */
  #closed(): boolean {
    return this.ws.readyState === this.ws.CLOSED;
  }

  /** Nothing more for this socket: marks it ended, stops its deadline for good and closes it. */
  #shut(code: number, reason: string): void {
    this.#ended = true;
    this.#deadline.stop();
    this.ws.close(code, reason);
  }

  /** The session ended (revoked, expired, idle): close with 4001; queued deliveries find the socket shut. */
  #end(reason: string): void {
    this.#shut(closeCodes.unauthorized, reason);
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
      this.#shut(closeCodes.forbidden, 'the session may no longer read dialogs');
      return undefined;
    }
    this.#principal = grant.principal;
    this.#deadline.arm(grant);
    return grant.principal;
  }

  /**
   * The first frame. Each step below may find the socket closed meanwhile (the close handler has run): it
   * then undoes what it registered itself, because the close handler ran before there was anything to undo.
   */
  async #authenticate(frame: ClientFrame): Promise<void> {
    if (frame.type !== 'auth') {
      this.ws.close(closeCodes.unauthorized, 'the first frame must be auth');
      return;
    }
    const first = await this.deps.services.sessions.validate(frame.token);
    if (typeof first === 'string' || first.principal.userId === null) {
      this.ws.close(closeCodes.unauthorized, 'invalid token');
      return;
    }
    if (!mayRead(first.principal)) {
      this.ws.close(closeCodes.forbidden, 'the token lacks the chat scope');
      return;
    }
    clearTimeout(this.#authTimer);
    const grant = await this.#joinSessionSockets(first.principal, frame.token);
    if (grant === undefined) return;
    this.#principal = grant.principal;
    this.#token = frame.token;
    this.#deadline.arm(grant);
    if (await this.#attach(grant.principal.tenantId, first.principal.userId)) {
      await this.#start(grant.principal, first.principal.userId, frame);
    }
  }

  /**
   * Registers this socket under its session, then validates the token again: the grant to sign in with, or
   * undefined when the socket closed or the session ended meanwhile.
   */
  async #joinSessionSockets(principal: Principal, token: string): Promise<SessionGrant | undefined> {
    // Registered before the check below: an eviction from now on reaches this socket, and one that landed
    // while `validate` read the database is caught by validating again (the cache kept nothing it read).
    this.#forget = this.deps.sessionSockets.add(principal, {
      end: () => {
        this.#end('session ended');
      },
      recheck: () => {
        this.#stale = true;
      },
    });
    if (this.ws.readyState !== this.ws.OPEN) {
      this.#forget(); // closed meanwhile: the close handler ran before there was anything to forget
      return undefined;
    }
    const grant = await this.deps.services.sessions.validate(token, { touch: false });
    if (this.#ended || this.#closed()) return undefined;
    if (typeof grant === 'string') {
      this.#end('invalid token');
      return undefined;
    }
    return grant;
  }

  /** Subscribes this socket to the user's deliveries; false when it must not go on signing in. */
  async #attach(tenantId: string, userId: string): Promise<boolean> {
    try {
      this.#unsubscribe = await this.deps.hub.attach(tenantId, userId, this);
    } catch (error) {
      // Signed in but unable to receive (the bus is down): close, and the client reconnects and resumes.
      this.deps.logger.warn({ err: error }, 'realtime subscription failed');
      this.#shut(closeCodes.tryAgainLater, 'temporarily unavailable: reconnect and resume');
      return false;
    }
    // Ended (or gone) while attaching: the close handler ran before there was anything to detach.
    if (this.#closed()) {
      await this.#unsubscribe();
      return false;
    }
    return true;
  }

  /** Signed in and subscribed: `ready`, the resume the auth frame asked for, then presence. */
  async #start(principal: Principal, userId: string, frame: AuthFrame): Promise<void> {
    const { services } = this.deps;
    this.#presence = new PresenceFollower(services.presence, principal.tenantId, userId, (out) => {
      this.#send(out);
    });
    this.#send({ type: 'ready', userId, deviceId: this.#id, epoch: this.deps.epoch, heartbeatMs: 25_000 });
    // Within this task, so no live hint (queued behind it) can start a dialog past the client's position.
    if (frame.positions) await this.#dispatch(principal, { type: 'resume', positions: frame.positions });
    // Closed during the resume: the close handler has run; nothing is registered that would outlive it.
    if (this.#closed()) return;
    this.#presenceRegistration = new PresenceRegistration(
      services.presence,
      principal.tenantId,
      userId,
      this.#id,
      this.deps.logger,
    );
    await this.#presenceRegistration.register();
  }

  position(dialogId: string): number | undefined {
    return this.#deliveries.position(dialogId);
  }

  positions(): Iterable<[string, number]> {
    return this.#deliveries.positions();
  }

  deliverShared(dialogId: string, page: SharedStreamPage, pageAfter: number, startAfter: number): void {
    this.#enqueue(async () => {
      const principal = await this.#deliverable();
      if (!principal?.userId) return;
      await this.#deliveries.deliverShared(principal.userId, dialogId, page, pageAfter, startAfter);
    });
  }

  signal(hint: ForwardedHint): void {
    this.#enqueue(() => this.#onHint(hint));
  }

  /** Forwarded in queue order, under the same checks as a delivery. */
  async #onHint(hint: ForwardedHint): Promise<void> {
    if (!(await this.#deliverable())) return;
    const frame = hintFrame(hint, this.#id);
    if (frame) this.#send(frame);
  }

  async #dispatch(principal: Principal, frame: ClientFrame): Promise<void> {
    const span = this.deps.tracing.startFrame(frame.type);
    const context: FrameContext = {
      services: this.deps.services,
      deviceId: this.#id,
      epoch: this.deps.epoch,
      send: (out) => {
        // Refusals travel as error frames: their catalogue code is the frame's outcome.
        if (out.type === 'error') span.refused(out.code);
        this.#send(out);
      },
      resumeFrom: (dialogId, seq) => this.#deliveries.resumeFrom(dialogId, seq),
      followPresence: async (userIds) => {
        await this.#presence?.follow(userIds);
      },
    };
    let failed = false;
    try {
      await span.run(() => dispatchFrame(context, principal, frame));
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      span.end(failed);
    }
  }
}
