import type { RequestAnswer, RequestFrame } from './realtime-frames.ts';
import { RealtimeError } from './realtime-error.ts';

interface Pending {
  frame: RequestFrame;
  promise: Promise<RequestAnswer>;
  resolve: (ack: RequestAnswer) => void;
  reject: (error: RealtimeError) => void;
}

/**
 * Requests not yet acknowledged, in the order they were made. Each keeps its frame — and so its client id —
 * until the server acks it or refuses it, so a retry after a reconnect is the same request and the server's
 * idempotency (same id, same message) turns it into at most one message.
 */
export class OutgoingQueue {
  readonly #pending = new Map<string, Pending>();

  constructor(readonly limit: number) {}

  get size(): number {
    return this.#pending.size;
  }

  /** Queues a request; the same id twice answers the first request's promise. */
  add(frame: RequestFrame): Promise<RequestAnswer> {
    const existing = this.#pending.get(frame.id);
    if (existing) return existing.promise;
    if (this.#pending.size >= this.limit)
      return Promise.reject(
        new RealtimeError('queue_full', `More than ${this.limit} requests are waiting for an ack.`),
      );
    let resolve!: (ack: RequestAnswer) => void;
    let reject!: (error: RealtimeError) => void;
    const promise = new Promise<RequestAnswer>((onAck, onError) => {
      resolve = onAck;
      reject = onError;
    });
    this.#pending.set(frame.id, { frame, promise, resolve, reject });
    return promise;
  }

  /** Every waiting request, oldest first: what a new connection sends again. */
  frames(): RequestFrame[] {
    return [...this.#pending.values()].map((pending) => pending.frame);
  }

  /** Resolves the request the answer names; a repeated ack (after a retry) finds nothing and is ignored. */
  acknowledge(ack: RequestAnswer): void {
    const pending = this.#pending.get(ack.id);
    if (!pending) return;
    this.#pending.delete(ack.id);
    pending.resolve(ack);
  }

  fail(id: string, error: RealtimeError): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    pending.reject(error);
  }

  failAll(error: RealtimeError): void {
    for (const id of [...this.#pending.keys()]) this.fail(id, error);
  }

  /** Refuses every waiting request the predicate picks (call requests when their connection ends). */
  failWhere(match: (frame: RequestFrame) => boolean, error: RealtimeError): void {
    for (const pending of [...this.#pending.values()])
      if (match(pending.frame)) this.fail(pending.frame.id, error);
  }
}
