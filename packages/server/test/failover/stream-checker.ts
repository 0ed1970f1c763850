import type { StoredMessage } from './failover-tenant.ts';

/** One sequenced frame as a client received it. */
export interface ReceivedChange {
  seq: number;
  messageId: string;
}

/** What a checker needs to know: the database's history, every ack, and every client's streams. */
export interface CheckInput {
  history: readonly StoredMessage[];
  /** Client id → what its ack said. */
  acks: ReadonlyMap<string, { seq: number; messageId: string }>;
  /** Client ids sent (acked or not). */
  sent: ReadonlySet<string>;
  /** Per client, per stream (the frames off the wire; what the SDK handed the app): in arrival order. */
  streams: readonly { client: string; name: string; changes: readonly ReceivedChange[] }[];
}

export interface CheckReport {
  messages: number;
  acked: number;
  /** Acked, but not in the database at the seq and message id the ack named (a false ack, or a loss). */
  lost: number;
  /** A client id stored twice, or a change a stream received twice. */
  duplicates: number;
  /** Sequence numbers missing from the history (not 1..n) or from a client's stream. */
  gaps: number;
  /** A change received after one with a higher seq. */
  reordered: number;
  /** A change received with another message id than the database has at that seq. */
  mismatched: number;
  /** Sent but never acked by the end. */
  unacked: number;
  /** The first problems found, in words. */
  problems: string[];
}

/**
 * Compares what the clients were told and shown with what the database holds, after the load has drained.
 * Every stream was followed from seq 0, so each must be exactly the history: 1..n, each once, in order.
 */
export function checkStreams(input: CheckInput): CheckReport {
  const report: CheckReport = {
    messages: input.history.length,
    acked: input.acks.size,
    lost: 0,
    duplicates: 0,
    gaps: 0,
    reordered: 0,
    mismatched: 0,
    unacked: 0,
    problems: [],
  };
  const problem = (text: string) => {
    if (report.problems.length < 20) report.problems.push(text);
  };
  const byClientId = new Map<string, StoredMessage>();
  const bySeq = new Map<number, StoredMessage>();
  input.history.forEach((message, index) => {
    if (message.seq !== index + 1) {
      report.gaps += 1;
      problem(`history: seq ${message.seq} at position ${index + 1}`);
    }
    bySeq.set(message.seq, message);
    if (message.clientId === null) return;
    if (byClientId.has(message.clientId)) {
      report.duplicates += 1;
      problem(`history: client id ${message.clientId} stored twice`);
    }
    byClientId.set(message.clientId, message);
  });
  for (const [clientId, ack] of input.acks) {
    const stored = byClientId.get(clientId);
    if (stored?.seq !== ack.seq || stored.id !== ack.messageId) {
      report.lost += 1;
      problem(
        `acked ${clientId} at seq ${ack.seq} but the database has ${stored ? `seq ${stored.seq}` : 'nothing'}`,
      );
    }
  }
  for (const clientId of input.sent) if (!input.acks.has(clientId)) report.unacked += 1;
  for (const stream of input.streams) {
    const who = `${stream.client} (${stream.name})`;
    const seen = new Set<number>();
    let highest = 0;
    for (const change of stream.changes) {
      if (seen.has(change.seq)) {
        report.duplicates += 1;
        problem(`${who}: seq ${change.seq} received twice`);
        continue;
      }
      seen.add(change.seq);
      if (change.seq < highest) {
        report.reordered += 1;
        problem(`${who}: seq ${change.seq} after ${highest}`);
      }
      highest = Math.max(highest, change.seq);
      const stored = bySeq.get(change.seq);
      if (stored?.id !== change.messageId) {
        report.mismatched += 1;
        problem(
          `${who}: seq ${change.seq} is ${change.messageId}, the database has ${stored?.id ?? 'nothing'}`,
        );
      }
    }
    for (const message of input.history)
      if (!seen.has(message.seq)) {
        report.gaps += 1;
        problem(`${who}: seq ${message.seq} never received`);
      }
  }
  return report;
}

/** Median, 95th percentile and maximum of some durations (ms), for the printed figures. */
export function spread(values: readonly number[]): { count: number; p50: number; p95: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1) ?? 0 };
}
