import { randomBytes } from 'node:crypto';
import { GROWN_TEXT_SEED, GrownVocabulary, SeededRandom } from './grown-text.js';
import type { OpenLoopWorkload, TrialProbe } from './open-loop.js';
import type { LeanSocket, ServerFrame } from './realtime-client.js';

export { percentile } from './open-loop.js';

/** One sender: a socket that sends into one dialog, whose other members receive each message. */
export interface Sender {
  socket: LeanSocket;
  dialogId: string;
  /** How many sockets other than the sender's should get each message. */
  recipients: number;
}

/** The grown database's text generator, with another seed: new messages read like the stored ones. */
const vocabulary = new GrownVocabulary(GROWN_TEXT_SEED);
const random = new SeededRandom(Date.now());

/** A chat line like those in the grown history (5–30 words), so search finds what the scenarios sent. */
export function messageBody(): string {
  return vocabulary.message(random);
}

interface InFlight {
  scheduledAt: number;
  probe: TrialProbe;
  sender: number;
  /** Deliveries still to come. */
  remaining: number;
  acked: boolean;
}

/** A sender with this many unacknowledged sends skips its turn (counted as not sent): the server is far behind. */
const MAX_OUTSTANDING_PER_SENDER = 2000;

/**
 * Messages over realtime, open loop: each operation is one `message.send` from the next sender in turn, and
 * its arrivals are the `message.new` frames at every other member's socket (the sender's own copy is left
 * out). A send refused with an error frame, an error frame of any other kind and a socket that closes all
 * count as failures. The sockets stay open across trials; client ids are unique per workload and send.
 */
export class MessagingWorkload implements OpenLoopWorkload {
  /** Messages sent over the workload's life (they are stored: the database grows by this many). */
  sentTotal = 0;
  readonly #inFlight = new Map<string, InFlight>();
  readonly #outstanding: number[];
  readonly #run = randomBytes(4).toString('hex');
  #next = 0;
  #counter = 0;
  #lastProbe: TrialProbe | undefined;
  #stopped = false;

  constructor(
    private readonly senders: readonly Sender[],
    receivers: readonly LeanSocket[],
  ) {
    this.#outstanding = new Array<number>(senders.length).fill(0);
    for (const socket of new Set([...receivers, ...senders.map((sender) => sender.socket)])) {
      socket.onFrame = (frame, receivedAt) => {
        this.#onFrame(socket, frame, receivedAt);
      };
      socket.ws.once('close', (code: number) => {
        if (!this.#stopped) this.#lastProbe?.failed(`close ${code}`);
      });
    }
  }

  start(scheduledAt: number, probe: TrialProbe): number {
    this.#lastProbe = probe;
    const index = this.#next;
    this.#next = (this.#next + 1) % this.senders.length;
    const sender = this.senders[index];
    if (!sender?.socket.open || (this.#outstanding[index] ?? 0) >= MAX_OUTSTANDING_PER_SENDER) return 0;
    this.#counter += 1;
    const clientId = `${this.#run}-${this.#counter}`;
    this.#inFlight.set(clientId, {
      scheduledAt,
      probe,
      sender: index,
      remaining: sender.recipients,
      acked: false,
    });
    this.#outstanding[index] = (this.#outstanding[index] ?? 0) + 1;
    this.sentTotal += 1;
    sender.socket.send({
      type: 'message.send',
      id: clientId,
      dialogId: sender.dialogId,
      body: messageBody(),
    });
    return sender.recipients;
  }

  pending(): number {
    return this.#inFlight.size;
  }

  forget(): void {
    this.#inFlight.clear();
    this.#outstanding.fill(0);
  }

  /** Closes of the sockets from here on are the bench's own, not failures. */
  stop(): void {
    this.#stopped = true;
  }

  #onFrame(socket: LeanSocket, frame: ServerFrame, receivedAt: number): void {
    switch (frame.type) {
      case 'message.new': {
        if (frame.message.senderId === socket.userId || frame.message.clientId === null) return;
        const entry = this.#inFlight.get(frame.message.clientId);
        if (!entry) return;
        entry.probe.arrived(entry.scheduledAt, receivedAt);
        entry.remaining -= 1;
        if (entry.remaining <= 0 && entry.acked) this.#inFlight.delete(frame.message.clientId);
        return;
      }
      case 'ack': {
        const entry = this.#inFlight.get(frame.id);
        if (!entry) return;
        entry.acked = true;
        this.#outstanding[entry.sender] = (this.#outstanding[entry.sender] ?? 1) - 1;
        if (entry.remaining <= 0) this.#inFlight.delete(frame.id);
        return;
      }
      case 'error': {
        const entry = frame.id === undefined ? undefined : this.#inFlight.get(frame.id);
        (entry?.probe ?? this.#lastProbe)?.failed(frame.code);
        if (entry && frame.id !== undefined) {
          this.#outstanding[entry.sender] = (this.#outstanding[entry.sender] ?? 1) - 1;
          this.#inFlight.delete(frame.id);
        }
        return;
      }
      case 'ready':
      case 'message.edited':
      case 'message.deleted':
      case 'message.reactions':
      case 'pong':
      case 'resync':
        return;
    }
  }
}

/**
 * Sends `count` messages into `dialogId` from `socket`, `window` at a time, and resolves when all are
 * acknowledged: a closed loop for seeding history, not for measuring.
 */
export function sendMessages(
  socket: LeanSocket,
  dialogId: string,
  count: number,
  window = 16,
): Promise<void> {
  const run = randomBytes(4).toString('hex');
  let sent = 0;
  let acked = 0;
  return new Promise((resolve, reject) => {
    const sendNext = () => {
      sent += 1;
      socket.send({ type: 'message.send', id: `${run}-${sent}`, dialogId, body: messageBody() });
    };
    socket.onFrame = (frame) => {
      if (frame.type === 'error') reject(new Error(`seeding ${dialogId}: ${frame.code} ${frame.message}`));
      if (frame.type !== 'ack') return;
      acked += 1;
      if (acked === count) resolve();
      else if (sent < count) sendNext();
    };
    if (count === 0) resolve();
    for (let n = 0; n < Math.min(window, count); n += 1) sendNext();
  });
}
