import { type ClientFrame, clientFrame, closeCodes, type ServerFrame } from '@parley/protocol';
import type { WebSocket } from 'ws';
import { AppError } from '../app-error.ts';
import type { Logger } from '../observability/logger.ts';
import type { Principal, SessionService } from '../identity/session-service.ts';
import type { DialogHint, MessageFanout } from '../messaging/message-fanout.ts';
import type { MessageService } from '../messaging/message-service.ts';

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
  sessions: SessionService;
  messages: MessageService;
  fanout: MessageFanout;
  epoch: string;
  logger: Logger;
  limits: RealtimeLimits;
}

const REPLAY_PAGE = 200;

/**
 * One client socket. Frames are handled strictly in arrival order, and deliveries per dialog are
 * gap-free and duplicate-free: a hint or a resume only ever sends sequence numbers above what this socket
 * already delivered, read from the database in order.
 */
export class RealtimeConnection {
  #principal: Principal | undefined;
  #token = '';
  #unsubscribe: (() => Promise<void>) | undefined;
  readonly #delivered = new Map<string, number>();
  #queue: Promise<void> = Promise.resolve();
  #allowance: number;
  #lastRefill = Date.now();
  #violations = 0;
  readonly #authTimer: NodeJS.Timeout;

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: ConnectionDeps,
  ) {
    this.#allowance = deps.limits.framesPerSecond * 2;
    this.#authTimer = setTimeout(() => {
      if (!this.#principal) ws.close(closeCodes.authTimeout, 'authentication timeout');
    }, deps.limits.authTimeoutMs);
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary) => {
      const text = isBinary
        ? null
        : Buffer.isBuffer(data)
          ? data.toString('utf8')
          : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
      this.#enqueue(() => this.#onMessage(text));
    });
    ws.on('close', () => {
      clearTimeout(this.#authTimer);
      void this.#unsubscribe?.().catch(() => undefined);
    });
  }

  #enqueue(work: () => Promise<void>): void {
    this.#queue = this.#queue.then(work).catch((error: unknown) => {
      this.deps.logger.error({ err: error }, 'realtime frame failed');
    });
  }

  #send(frame: ServerFrame): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.deps.limits.sendBufferBytes) {
      this.ws.close(closeCodes.resume, 'send buffer full: reconnect and resume');
      return;
    }
    this.ws.send(JSON.stringify(frame));
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
    if (!this.#takeToken()) {
      this.#violation('rate_limited', 'Too many frames; slow down.');
      return;
    }
    let parsed: unknown;
    try {
      parsed = text === null ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined) {
      this.#violation('malformed_frame', 'Frames are JSON text.');
      return;
    }
    const frame = clientFrame.safeParse(parsed);
    if (!frame.success) {
      const id = (parsed as { id?: unknown }).id;
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
    // Re-checked on every frame (a cache hit): a revoked token stops working on an open socket too.
    const current = await this.deps.sessions.authenticate(this.#token);
    if (typeof current === 'string') {
      this.ws.close(closeCodes.unauthorized, 'token no longer valid');
      return;
    }
    await this.#dispatch(current, frame.data);
  }

  async #authenticate(frame: ClientFrame): Promise<void> {
    if (frame.type !== 'auth') {
      this.ws.close(closeCodes.unauthorized, 'the first frame must be auth');
      return;
    }
    const result = await this.deps.sessions.authenticate(frame.token);
    if (typeof result === 'string' || result.userId === null) {
      this.ws.close(closeCodes.unauthorized, 'invalid token');
      return;
    }
    if (!result.scopes.has('chat') || !result.permissions.has('dialogs.read')) {
      this.ws.close(closeCodes.forbidden, 'the token lacks the chat scope');
      return;
    }
    clearTimeout(this.#authTimer);
    this.#principal = result;
    this.#token = frame.token;
    const userId = result.userId;
    this.#unsubscribe = await this.deps.fanout.subscribe(result.tenantId, userId, (hint) => {
      this.#enqueue(() => this.#deliver(hint));
    });
    this.#send({ type: 'ready', userId, epoch: this.deps.epoch, heartbeatMs: 25_000 });
  }

  async #dispatch(principal: Principal, frame: ClientFrame): Promise<void> {
    const userId = principal.userId ?? '';
    switch (frame.type) {
      case 'auth':
        this.#violation('already_authenticated', 'This socket is already authenticated.');
        return;
      case 'ping':
        this.#send({ type: 'pong' });
        return;
      case 'message.send':
        try {
          if (!principal.permissions.has('messages.send')) throw new AppError('forbidden');
          const { message } = await this.deps.messages.send(principal.tenantId, userId, frame.dialogId, {
            clientId: frame.id,
            body: frame.body,
            mentions: frame.mentions ?? [],
            ...(frame.replyTo === undefined ? {} : { replyTo: frame.replyTo }),
          });
          // Acked only now: the message is committed.
          this.#send({
            type: 'ack',
            id: frame.id,
            dialogId: frame.dialogId,
            messageId: message.id,
            seq: message.seq,
          });
        } catch (error) {
          this.#sendError(error, frame.id);
        }
        return;
      case 'read':
        try {
          await this.deps.messages.markRead(principal.tenantId, userId, frame.dialogId, frame.seq);
        } catch (error) {
          this.#sendError(error);
        }
        return;
      case 'resume':
        for (const [dialogId, position] of Object.entries(frame.positions)) {
          if (position.epoch !== this.deps.epoch) {
            this.#send({ type: 'resync', dialogId, reason: 'epoch_changed' });
            continue;
          }
          this.#delivered.set(dialogId, Math.max(this.#delivered.get(dialogId) ?? 0, position.seq));
          await this.#deliver({ dialogId, seq: Number.MAX_SAFE_INTEGER });
        }
        return;
    }
  }

  #sendError(error: unknown, id?: string): void {
    if (error instanceof AppError) {
      this.#send({
        type: 'error',
        ...(id === undefined ? {} : { id }),
        code: error.code,
        message: error.message,
      });
      return;
    }
    this.deps.logger.error({ err: error }, 'realtime frame failed');
    this.#send({
      type: 'error',
      ...(id === undefined ? {} : { id }),
      code: 'internal_error',
      message: 'An internal error occurred.',
    });
  }

  /** Sends, in order, every message of the dialog above what this socket delivered, up to the hint. */
  async #deliver(hint: DialogHint): Promise<void> {
    const principal = this.#principal;
    if (!principal?.userId) return;
    const known = this.#delivered.get(hint.dialogId);
    // A live hint for a dialog this socket has not seen: start at that message.
    let after = known ?? hint.seq - 1;
    if (hint.seq <= after) return;
    for (;;) {
      let page;
      try {
        page = await this.deps.messages.history(principal.tenantId, principal.userId, hint.dialogId, {
          after,
          limit: REPLAY_PAGE,
        });
      } catch {
        return; // no longer a member: nothing to deliver
      }
      for (const message of page.messages) {
        this.#send({
          type: 'message.new',
          dialogId: hint.dialogId,
          seq: message.seq,
          epoch: this.deps.epoch,
          message,
        });
        after = message.seq;
      }
      this.#delivered.set(hint.dialogId, after);
      if (page.messages.length < REPLAY_PAGE || after >= hint.seq) return;
    }
  }
}
