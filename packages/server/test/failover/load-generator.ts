import { RealtimeClient, RealtimeError, type WebSocketConstructor } from '@parley/client';
import WebSocket from 'ws';
import type { FailoverTenant } from './failover-tenant.ts';
import type { NodeAddress, NodeCluster } from './node-cluster.ts';
import { checkStreams, type CheckReport, type ReceivedChange } from './stream-checker.ts';
import { dialogHistory } from './failover-tenant.ts';

/** A change as it came off the wire, with when and on which connection. */
interface WireChange extends ReceivedChange {
  clientId: string | null;
  receivedAt: number;
  connection: number;
}

/** Where nothing listens: a connection attempt while no node is live fails, and the SDK backs off. */
const NOWHERE: NodeAddress = { index: -1, url: 'https://127.0.0.1:1', ca: '' };

const pause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * One user's client: the real SDK `RealtimeClient` (its reconnect back-off, resume from its positions, and
 * re-sending of unacknowledged requests with the same client id), behind a WebSocket class that plays the
 * load balancer: the first connection goes to the client's home node, each later one to another live node.
 * The class also taps every frame off the wire, before the SDK sees it, so the checker sees what the server
 * sent (a duplicate the SDK would drop included).
 */
class LoadClient {
  readonly sdk: RealtimeClient;
  readonly wire: WireChange[] = [];
  readonly app: ReceivedChange[] = [];
  /** Time from losing a ready connection to the next `ready`, per reconnect (ms). */
  readonly reconnects: number[] = [];
  /** The node each connection went to. */
  readonly nodes: number[] = [];
  closedWith: string | undefined;
  #downAt: number | undefined;

  constructor(
    readonly name: string,
    token: string,
    readonly dialogId: string,
    cluster: NodeCluster,
    home: number,
  ) {
    const route = (): NodeAddress => {
      const live = cluster.live();
      const previous = this.nodes.at(-1);
      if (previous === undefined) return live.find((node) => node.index === home) ?? live[0] ?? NOWHERE;
      const others = live.filter((node) => node.index !== previous);
      const choices = others.length > 0 ? others : live;
      return choices[Math.floor(Math.random() * choices.length)] ?? NOWHERE;
    };
    const onFrame = (text: string, connection: number) => {
      const frame = JSON.parse(text) as {
        type: string;
        dialogId?: string;
        seq?: number;
        message?: { id: string; clientId: string | null };
      };
      if (frame.type !== 'message.new' || frame.dialogId !== dialogId || typeof frame.seq !== 'number')
        return;
      this.wire.push({
        seq: frame.seq,
        messageId: frame.message?.id ?? '',
        clientId: frame.message?.clientId ?? null,
        receivedAt: Date.now(),
        connection,
      });
    };
    const nodes = this.nodes;
    const RoutedWebSocket: WebSocketConstructor = class extends WebSocket {
      constructor() {
        const target = route();
        super(`${target.url.replace('https', 'wss')}/v1/realtime`, { ca: target.ca });
        nodes.push(target.index);
        const connection = nodes.length;
        this.on('message', (data: Buffer) => {
          onFrame(data.toString('utf8'), connection);
        });
      }
    };
    this.sdk = new RealtimeClient({
      url: 'wss://routed.invalid/v1/realtime',
      // The token outlives the test; a refusal of it is a failure the checker reports (the client stops).
      tokens: { current: () => token, renew: () => Promise.resolve(token) },
      WebSocket: RoutedWebSocket,
      backoff: { initialDelayMs: 100, maxDelayMs: 1000 },
      framesPerSecond: 500,
    });
    this.sdk.on('message.new', (frame) => {
      if (frame.dialogId === dialogId) this.app.push({ seq: frame.seq, messageId: frame.message.id });
    });
    this.sdk.on('connection', (event) => {
      if (event.state === 'ready' && this.#downAt !== undefined) {
        this.reconnects.push(Date.now() - this.#downAt);
        this.#downAt = undefined;
      } else if (event.state === 'reconnecting') {
        this.#downAt ??= Date.now();
      } else if (event.state === 'closed') {
        this.closedWith = event.error?.code ?? 'closed';
      }
    });
  }

  /** Connects and follows the dialog from seq 0, so its stream must be the whole history. */
  async start(): Promise<void> {
    this.sdk.connect();
    const { epoch } = await this.sdk.whenReady();
    this.sdk.track(this.dialogId, { seq: 0, epoch });
  }

  get lastSeq(): number {
    return this.wire.reduce((highest, change) => Math.max(highest, change.seq), 0);
  }
}

export interface LoadOptions {
  /** Sends per second across all clients, at a fixed interval, round robin over the clients. */
  ratePerSecond: number;
  /** Client ids start with it (one run's ids never meet another's). */
  label: string;
}

/** A send the server refused, or could not do (database away): the client tries it again, same client id. */
export interface SendError {
  clientId: string;
  code: string;
  at: number;
}

/**
 * Clients spread over the cluster's nodes (client i starts on node i mod N), sending into one dialog at a
 * fixed rate, recording every ack, every error and every change received. A send that fails is sent again
 * with the same client id after 250 ms, as an app would retry it: so in the end every send is acked once,
 * and a failure that was in fact committed shows up as a duplicate or a loss, never hides.
 */
export class LoadGenerator {
  readonly clients: LoadClient[];
  readonly sentAt = new Map<string, number>();
  readonly acks = new Map<string, { seq: number; messageId: string; at: number }>();
  readonly errors: SendError[] = [];
  /** An id acked twice with different answers: a false ack. */
  readonly conflictingAcks: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight = new Set<Promise<void>>();
  #sending = false;
  startedAt = 0;
  stoppedAt = 0;

  constructor(
    readonly cluster: NodeCluster,
    readonly tenant: FailoverTenant,
    readonly options: LoadOptions,
  ) {
    this.clients = tenant.tokens.map(
      (token, index) =>
        new LoadClient(`client ${index}`, token, tenant.dialogId, cluster, index % cluster.size),
    );
  }

  #n = 0;

  /** Connects every client (each to its home node) and starts sending. */
  async start(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.start()));
    this.startSending();
  }

  /** Sends at the fixed rate until `stopSending` (again, after a stop). */
  startSending(): void {
    if (this.#sending) return;
    this.#sending = true;
    if (this.startedAt === 0) this.startedAt = Date.now();
    this.#timer = setInterval(() => {
      this.#n += 1;
      const n = this.#n;
      const client = this.clients[n % this.clients.length];
      if (client) this.#send(client, `${this.options.label}-${n}`);
    }, 1000 / this.options.ratePerSecond);
  }

  #send(client: LoadClient, clientId: string): void {
    if (!this.sentAt.has(clientId)) this.sentAt.set(clientId, Date.now());
    const attempt = client.sdk.send(this.tenant.dialogId, `drill ${clientId}`, { id: clientId }).then(
      (ack) => {
        const seq = ack.seq ?? -1;
        const earlier = this.acks.get(clientId);
        if (earlier && (earlier.seq !== seq || earlier.messageId !== ack.messageId))
          this.conflictingAcks.push(clientId);
        if (!earlier) this.acks.set(clientId, { seq, messageId: ack.messageId, at: Date.now() });
      },
      async (error: unknown) => {
        const code = error instanceof RealtimeError ? error.code : String(error);
        this.errors.push({ clientId, code, at: Date.now() });
        if (code === 'closed') return;
        await pause(250);
        this.#send(client, clientId);
      },
    );
    this.#inFlight.add(attempt);
    void attempt.finally(() => this.#inFlight.delete(attempt));
  }

  /** Stops sending new messages (retries of failed ones go on until acked). */
  stopSending(): void {
    clearInterval(this.#timer);
    if (this.#sending) this.stoppedAt = Date.now();
    this.#sending = false;
  }

  /** Resolves once every send was acked; rejects after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    this.stopSending();
    const deadline = Date.now() + timeoutMs;
    while (this.#inFlight.size > 0 || this.acks.size < this.sentAt.size) {
      if (Date.now() > deadline)
        throw new Error(`${this.sentAt.size - this.acks.size} sends still unacked after ${timeoutMs} ms`);
      await Promise.race([...this.#inFlight, pause(100)]);
    }
  }

  /** Resolves once every client received up to `seq`; rejects after `timeoutMs`, naming who is behind. */
  async delivered(seq: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const behind = this.clients.filter((client) => client.lastSeq < seq);
      if (behind.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(
          `not delivered up to seq ${seq} after ${timeoutMs} ms: ${behind.map((client) => `${client.name} at ${client.lastSeq}`).join(', ')}`,
        );
      await pause(50);
    }
  }

  /** Drains, waits for every client to have the whole history, and compares it all. */
  async check(timeoutMs = 30_000): Promise<CheckReport & { history: number }> {
    await this.drain(timeoutMs);
    const history = await dialogHistory(this.cluster, this.tenant);
    await this.delivered(history.at(-1)?.seq ?? 0, timeoutMs);
    const report = checkStreams({
      history,
      acks: this.acks,
      sent: new Set(this.sentAt.keys()),
      streams: this.clients.flatMap((client) => [
        { client: client.name, name: 'wire', changes: client.wire },
        { client: client.name, name: 'app', changes: client.app },
      ]),
    });
    for (const id of this.conflictingAcks) {
      report.lost += 1;
      report.problems.push(`${id} acked twice with different answers`);
    }
    for (const client of this.clients)
      if (client.closedWith !== undefined)
        report.problems.push(`${client.name} stopped: ${client.closedWith}`);
    return { ...report, history: history.length };
  }

  reconnectTimes(): number[] {
    return this.clients.flatMap((client) => client.reconnects);
  }

  /** When each client first received a change sent at or after `since` (ms since epoch). */
  firstDeliveryOfSendsFrom(since: number): number[] {
    return this.clients.map((client) => {
      const first = client.wire.find((change) => {
        const sent = change.clientId === null ? undefined : this.sentAt.get(change.clientId);
        return sent !== undefined && sent >= since;
      });
      return first === undefined ? Number.POSITIVE_INFINITY : first.receivedAt;
    });
  }

  close(): void {
    this.stopSending();
    for (const client of this.clients) client.sdk.close();
  }
}
