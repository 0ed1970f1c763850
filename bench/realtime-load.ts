import { randomBytes } from 'node:crypto';
import { cpuPercent, type ServerProcess } from './server-process.js';
import type { LeanSocket, ServerFrame } from './realtime-client.js';

/** One sender: a socket that sends into one dialog, whose other members receive each message. */
export interface Sender {
  socket: LeanSocket;
  dialogId: string;
  /** How many sockets other than the sender's should get each message. */
  recipients: number;
}

export interface LoadOptions {
  warmupSeconds: number;
  windowSeconds: number;
  /** Closed loop: sends each sender keeps outstanding (a new one leaves when an ack arrives). */
  inFlight: number;
  /** Open loop when above 0: messages per second over all senders, on a timer, whatever the acks do. */
  rate: number;
  /** After the window, how long to wait for the window's messages to reach everyone. */
  drainSeconds: number;
}

export interface LoadResult {
  /** Sends acknowledged inside the window, per second. */
  ackedPerSecond: number;
  /** `message.new` frames received inside the window by members other than the sender, per second. */
  deliveredPerSecond: number;
  /**
   * Send → `message.new` at each other member, for every message sent inside the window (received in the
   * window or during the drain after it); ms, ascending.
   */
  latenciesMs: Float64Array;
  /** Deliveries of the window's messages still missing when the drain gave up. */
  undelivered: number;
  serverCpuPercent: number;
  serverRssBytes: number;
  /** Error frames and unexpected closes seen during the run (warm-up and drain included). */
  errors: number;
  /** Error frames by code, and close codes of unexpected closes. */
  errorCodes: Record<string, number>;
  closes: number;
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

const OPEN_LOOP_TICK_MS = 5;
/** Open loop: a sender with this many unacknowledged sends skips its turn (the server is far behind). */
const OPEN_LOOP_MAX_OUTSTANDING = 256;

/**
 * Drives `senders` (closed or open loop), then after the warm-up counts acks and deliveries for a fixed
 * window while the server's CPU is read from /proc. Sending stops at the end of the window; the messages
 * sent inside it are then given `drainSeconds` to reach every member, so their latency percentiles include
 * whatever queue built up. Latency is timed in this process: sender and receivers share one clock.
 */
export async function runLoad(
  server: ServerProcess,
  senders: readonly Sender[],
  receivers: readonly LeanSocket[],
  options: LoadOptions,
): Promise<LoadResult> {
  // Client ids are idempotency keys per sender: unique per run, or a later scenario would replay earlier sends.
  const run = randomBytes(4).toString('hex');
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const errorCodes: Record<string, number> = {};
  const outstanding = new Array<number>(senders.length).fill(0);
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let sending = true;
  let acked = 0;
  let delivered = 0;
  let expectedDeliveries = 0;
  let windowDeliveries = 0;
  let errors = 0;
  let closes = 0;
  let counter = 0;

  const inWindow = (at: number) => at >= windowStart && at < windowEnd;
  const count = (key: string) => {
    errorCodes[key] = (errorCodes[key] ?? 0) + 1;
  };
  for (const socket of receivers) {
    socket.onFrame = (frame: ServerFrame, receivedAt: number) => {
      if (frame.type === 'message.new') {
        const { clientId, senderId } = frame.message;
        if (senderId === socket.userId) return;
        if (inWindow(receivedAt)) delivered += 1;
        const began = clientId === null ? undefined : sentAt.get(clientId);
        if (began !== undefined && inWindow(began)) {
          latencies.push(receivedAt - began);
          windowDeliveries += 1;
        }
      } else if (frame.type === 'error') {
        errors += 1;
        count(frame.code);
      }
    };
    socket.ws.once('close', (code: number) => {
      if (!sending) return;
      closes += 1;
      count(`close ${code}`);
    });
  }
  const sendOne = (sender: Sender, index: number) => {
    counter += 1;
    const clientId = `${run}-${index}-${counter}`;
    const now = performance.now();
    sentAt.set(clientId, now);
    if (inWindow(now)) expectedDeliveries += sender.recipients;
    outstanding[index] = (outstanding[index] ?? 0) + 1;
    sender.socket.send({
      type: 'message.send',
      id: clientId,
      dialogId: sender.dialogId,
      body: `bench ${counter}`,
    });
  };
  senders.forEach((sender, index) => {
    const previous = sender.socket.onFrame;
    sender.socket.onFrame = (frame, receivedAt) => {
      if (frame.type === 'ack' || (frame.type === 'error' && frame.id !== undefined)) {
        outstanding[index] = (outstanding[index] ?? 0) - 1;
        if (frame.type === 'ack' && inWindow(receivedAt)) acked += 1;
        if (sending && options.rate === 0) sendOne(sender, index);
      }
      previous(frame, receivedAt);
    };
  });

  let ticker: NodeJS.Timeout | undefined;
  if (options.rate > 0) {
    // Open loop: whole messages per tick from the elapsed time, round-robin over the senders.
    const started = performance.now();
    let next = 0;
    let issued = 0;
    ticker = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * options.rate);
      for (; issued < due; issued += 1) {
        const index = next;
        next = (next + 1) % senders.length;
        const sender = senders[index];
        if (sender && (outstanding[index] ?? 0) < OPEN_LOOP_MAX_OUTSTANDING) sendOne(sender, index);
      }
    }, OPEN_LOOP_TICK_MS);
  } else {
    senders.forEach((sender, index) => {
      for (let n = 0; n < options.inFlight; n += 1) sendOne(sender, index);
    });
  }

  await sleep(options.warmupSeconds * 1000);
  const before = await server.sample();
  windowStart = performance.now();
  await sleep(options.windowSeconds * 1000);
  windowEnd = performance.now();
  const after = await server.sample();
  sending = false;
  clearInterval(ticker);
  const drainUntil = performance.now() + options.drainSeconds * 1000;
  while (
    (windowDeliveries < expectedDeliveries || outstanding.some((n) => n > 0)) &&
    performance.now() < drainUntil
  )
    await sleep(50);
  const seconds = (windowEnd - windowStart) / 1000;
  return {
    ackedPerSecond: acked / seconds,
    deliveredPerSecond: delivered / seconds,
    latenciesMs: Float64Array.from(latencies).sort(),
    undelivered: expectedDeliveries - windowDeliveries,
    serverCpuPercent: cpuPercent(before, after),
    serverRssBytes: after.rssBytes,
    errors,
    errorCodes,
    closes,
  };
}
