export interface HeartbeatOptions {
  /** After this long without any frame from the server, send a `ping`. Default 20 s. */
  idleMs: number;
  /** After a `ping`, this long without any frame means the connection is dead. Default 10 s. */
  timeoutMs: number;
}

export const defaultHeartbeat: HeartbeatOptions = { idleMs: 20_000, timeoutMs: 10_000 };

/**
 * Application-level liveness for one socket. Browsers do not expose WebSocket pings, and a connection whose
 * peer vanished (a laptop lid, a NAT timeout) can look open for minutes: every frame received proves life;
 * silence gets a `ping`, and silence after the ping ends the connection.
 */
export class Heartbeat {
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly options: HeartbeatOptions,
    private readonly ping: () => void,
    private readonly dead: () => void,
  ) {}

  /** Something arrived: the connection is alive; start counting idle time again. */
  alive(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.ping();
      this.#timer = setTimeout(this.dead, this.options.timeoutMs);
    }, this.options.idleMs);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
