/** Handler types checked bivariantly, so both the DOM's and `ws`'s event types fit. */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/**
 * What the realtime client needs of a WebSocket: the subset the browser's `WebSocket` and the `ws`
 * package's `WebSocket` both implement.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}

/** A WebSocket class: the browser's global `WebSocket` by default; in Node, `ws` (or a subclass with TLS options). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `WebSocket.OPEN` */
export const OPEN = 1;
