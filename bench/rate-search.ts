import { percentile, type TrialResult } from './open-loop.js';

/** When a trial passes (issue 11): p99 under the limit, nothing lost, enough sent, no errors. */
export interface PassRule {
  p99LimitMs: number;
  minSentPercent: number;
}

export interface SearchOptions {
  /** First rate tried. */
  startRate: number;
  /** Factor the rate grows (or shrinks) by until one trial passes and one fails. */
  growth: number;
  /** Bisection stops when the failing rate is within this fraction above the passing one. */
  resolution: number;
  /** Most short trials before the confirm run. */
  maxTrials: number;
  /** Below this rate the search gives up (nothing passes). */
  minRate: number;
  shortSeconds: number;
  confirmSeconds: number;
  /** Confirm runs tried, each a step lower than the last failed one. */
  confirmAttempts: number;
  /** Fraction the rate drops by after a failed confirm run. */
  confirmStep: number;
}

export interface Verdict {
  pass: boolean;
  /** Why it failed ('p99', 'lost', 'sent', 'errors'); empty when it passed. */
  reasons: string[];
}

export interface SearchOutcome {
  /** The confirmed rate; 0 when nothing passed. */
  rate: number;
  /** The last confirm run (passed when `confirmed`), or the best short trial when no confirm could run. */
  result: TrialResult | undefined;
  confirmed: boolean;
  trials: number;
}

export const sentPercent = (result: TrialResult): number =>
  result.scheduled === 0 ? 0 : (result.sent / result.scheduled) * 100;

export const lostCount = (result: TrialResult): number => Math.max(0, result.expected - result.arrived);

export function judge(result: TrialResult, rule: PassRule): Verdict {
  const reasons: string[] = [];
  if (!(percentile(result.latenciesMs, 99) < rule.p99LimitMs)) reasons.push('p99');
  if (lostCount(result) > 0) reasons.push('lost');
  if (sentPercent(result) < rule.minSentPercent) reasons.push('sent');
  if (result.failures > 0) reasons.push('errors');
  return { pass: reasons.length === 0, reasons };
}

/** Three significant digits: rates print and compare cleanly, and a search never loops on 1e-9 steps. */
export function roundRate(rate: number): number {
  if (rate <= 0) return 0;
  const scale = 10 ** (Math.floor(Math.log10(rate)) - 2);
  return Math.round(rate / scale) * scale;
}

const fixed = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toFixed(digits) : value.toString();

/**
 * Whether others used the machine enough to matter: busy time on the server's cores that was not the
 * server's (all cores' noise when the server is not pinned) above `limitPercent` of one core.
 */
export function noisy(result: TrialResult, limitPercent: number): boolean {
  const { serverCoreOtherPercent, noisePercent } = result.usage;
  return (Number.isNaN(serverCoreOtherPercent) ? noisePercent : serverCoreOtherPercent) > limitPercent;
}

/** One trial on one line: what was asked, what came back, whose CPU it was, and the verdict. */
export function trialLine(
  label: string,
  kind: string,
  result: TrialResult,
  verdict: Verdict,
  noiseLimitPercent: number,
): string {
  const { usage } = result;
  const failures = Object.entries(result.failureReasons)
    .slice(0, 4)
    .map(([reason, count]) => `${reason} ×${count}`)
    .join(', ');
  return [
    `${label} ${kind.padEnd(7)} ${result.rate.toLocaleString('en-US').padStart(7)}/s`,
    `sent ${fixed(sentPercent(result), 1)}%`,
    `p50 ${fixed(percentile(result.latenciesMs, 50), 1)} p99 ${fixed(percentile(result.latenciesMs, 99), 1)} ms`,
    `lost ${lostCount(result)}`,
    `errors ${result.failures}${failures === '' ? '' : ` (${failures})`}`,
    `lag p99 ${fixed(percentile(result.lagMs, 99), 1)} ms`,
    `| server ${fixed(usage.serverCpuPercent, 0)}% ${fixed(usage.serverRssBytes / 2 ** 20, 0)} MiB`,
    `bench ${fixed(usage.benchCpuPercent, 0)}%`,
    `db ${fixed(usage.databaseCpuPercent, 0)}%`,
    `noise ${fixed(usage.noisePercent, 0)}%` +
      (Number.isNaN(usage.serverCoreOtherPercent)
        ? ''
        : ` (server core ${fixed(usage.serverCoreOtherPercent, 0)}%)`),
    `${verdict.pass ? 'PASS' : `FAIL ${verdict.reasons.join(',')}`}${result.settled ? '' : ' unsettled'}` +
      (noisy(result, noiseLimitPercent) ? ' NOISY' : ''),
  ].join('  ');
}

/**
 * The highest rate that passes: short trials growing geometrically from `startRate` until one fails (or
 * shrinking until one passes), then bisection down to `resolution`, then a confirm run of
 * `confirmSeconds` at the rate found; a failed confirm steps down by `confirmStep` and confirms again.
 */
export async function searchRate(
  trial: (rate: number, windowSeconds: number, kind: string) => Promise<Verdict & { result: TrialResult }>,
  options: SearchOptions,
): Promise<SearchOutcome> {
  let passing = 0;
  let failing = Infinity;
  let best: TrialResult | undefined;
  let rate = roundRate(options.startRate);
  let trials = 0;
  while (trials < options.maxTrials && rate >= options.minRate) {
    const { pass, result } = await trial(rate, options.shortSeconds, 'trial');
    trials += 1;
    if (pass) {
      passing = rate;
      best = result;
    } else failing = rate;
    if (failing === Infinity) rate = roundRate(rate * options.growth);
    else if (passing === 0) rate = roundRate(rate / options.growth);
    else if ((failing - passing) / passing <= options.resolution) break;
    else rate = roundRate((passing + failing) / 2);
    if (rate === passing || rate === failing) break;
  }
  if (passing === 0) return { rate: 0, result: best, confirmed: false, trials };
  rate = passing;
  let last: TrialResult | undefined;
  for (let attempt = 0; attempt < options.confirmAttempts && rate >= options.minRate; attempt += 1) {
    const { pass, result } = await trial(rate, options.confirmSeconds, 'confirm');
    trials += 1;
    last = result;
    if (pass) return { rate, result, confirmed: true, trials };
    rate = roundRate(rate * (1 - options.confirmStep));
  }
  return { rate: last?.rate ?? 0, result: last ?? best, confirmed: false, trials };
}
