import type { CpuMeter, CpuSample, CpuUsage } from './cpu-meter.js';

/** Where one operation reports: every expected arrival (a delivery, a response, a caught-up resume) or a failure. */
export interface TrialProbe {
  /** One expected arrival of the operation scheduled at `scheduledAt`, seen at `at` (performance.now()). */
  arrived(scheduledAt: number, at: number): void;
  /** An error frame, an unexpected close, a refused or failed request: any counts against the run. */
  failed(reason: string): void;
}

/** What an open-loop trial drives. */
export interface OpenLoopWorkload {
  /**
   * Starts one operation due at `scheduledAt`. Answers how many arrivals it will report to `probe`, or 0
   * when it could not be started (its sender's socket is gone, too much is outstanding): counted as not sent.
   */
  start(scheduledAt: number, probe: TrialProbe): number;
  /** Operations started and not finished yet (unacknowledged sends, open requests and resumes). */
  pending(): number;
  /** Forgets what is still pending after a trial gave up waiting, so it cannot count in the next one. */
  forget(): void;
}

export interface TrialOptions {
  /** Operations per second, on a fixed schedule whatever the server answers. */
  rate: number;
  warmupSeconds: number;
  windowSeconds: number;
  /** After the window, how long its operations may take to arrive; what has not arrived by then is lost. */
  drainSeconds: number;
  /** Then how long to wait for everything still pending, so the next trial starts on a quiet server. */
  settleSeconds: number;
}

export interface TrialResult {
  rate: number;
  windowSeconds: number;
  /** Operations due inside the window. */
  scheduled: number;
  /** Of those, started before the window ended. */
  sent: number;
  /** Arrivals the window's sent operations should produce. */
  expected: number;
  arrived: number;
  /** Scheduled time → arrival, for every arrival of the window's operations; ms, ascending. */
  latenciesMs: Float64Array;
  /** How late the generator started the window's operations against their schedule; ms, ascending. */
  lagMs: Float64Array;
  failures: number;
  failureReasons: Record<string, number>;
  usage: CpuUsage;
  /** False when operations were still pending after the settle time (the next trial may carry them). */
  settled: boolean;
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/**
 * An operation due just before the window's end whose timer fires just after it (timers are late by a
 * millisecond or two) is still started; one later than this counts as not sent: the generator fell behind.
 */
const END_GRACE_MS = 20;

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

async function waitUntil(done: () => boolean, seconds: number): Promise<boolean> {
  const until = performance.now() + seconds * 1000;
  while (!done()) {
    if (performance.now() >= until) return false;
    await sleep(20);
  }
  return true;
}

/**
 * One open-loop trial: operation k is due at start + k / rate, and is started then whatever the earlier ones
 * are doing — the generator never waits for the server. Every latency is measured from the time the
 * operation was DUE, not from when it actually left: a generator that falls behind (its event loop busy, or
 * a burst of arrivals to read) cannot hide the queueing (coordinated omission), and operations it could not
 * start by the window's end (give or take END_GRACE_MS) count as not sent. Only operations due inside the
 * window count; the warm-up's run at the same rate before it. CPU is read from the window's first due time
 * to its end.
 */
export async function runOpenLoop(
  workload: OpenLoopWorkload,
  options: TrialOptions,
  meter: CpuMeter,
): Promise<TrialResult> {
  const interval = 1000 / options.rate;
  const started = performance.now();
  const windowStart = started + options.warmupSeconds * 1000;
  const windowEnd = windowStart + options.windowSeconds * 1000;
  const inWindow = (at: number) => at >= windowStart && at < windowEnd;
  const latencies: number[] = [];
  const lags: number[] = [];
  const failureReasons: Record<string, number> = {};
  let scheduled = 0;
  let sent = 0;
  let expected = 0;
  let arrived = 0;
  let failures = 0;
  const probe: TrialProbe = {
    arrived(scheduledAt, at) {
      if (!inWindow(scheduledAt)) return;
      arrived += 1;
      latencies.push(at - scheduledAt);
    },
    failed(reason) {
      failures += 1;
      failureReasons[reason] = (failureReasons[reason] ?? 0) + 1;
    },
  };

  let before: CpuSample | undefined;
  let after: CpuSample | undefined;
  await new Promise<void>((resolve) => {
    let k = 0;
    const pump = () => {
      for (;;) {
        const due = started + k * interval;
        const now = performance.now();
        if (due >= windowEnd || now >= windowEnd + END_GRACE_MS) break;
        if (due > now) {
          setTimeout(pump, Math.max(0, due - now));
          return;
        }
        if (before === undefined && due >= windowStart) before = meter.sample();
        k += 1;
        const arrivals = workload.start(due, probe);
        if (!inWindow(due)) continue;
        scheduled += 1;
        lags.push(now - due);
        if (arrivals > 0) {
          sent += 1;
          expected += arrivals;
        }
      }
      // The window is over: what was due in it and not started counts as scheduled, not sent.
      const dueInWindow =
        Math.ceil((windowEnd - started) / interval) - Math.ceil((windowStart - started) / interval);
      scheduled = Math.max(scheduled, dueInWindow);
      before ??= meter.sample();
      after = meter.sample();
      resolve();
    };
    pump();
  });
  await waitUntil(() => arrived >= expected, options.drainSeconds);
  const settled = await waitUntil(() => workload.pending() === 0, options.settleSeconds);
  if (!settled) workload.forget();
  return {
    rate: options.rate,
    windowSeconds: options.windowSeconds,
    scheduled,
    sent,
    expected,
    arrived,
    latenciesMs: Float64Array.from(latencies).sort(),
    lagMs: Float64Array.from(lags).sort(),
    failures,
    failureReasons,
    usage: meter.usage(before ?? (after as CpuSample), after as CpuSample),
    settled,
  };
}
