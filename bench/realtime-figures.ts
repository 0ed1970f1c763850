import { percentile, type TrialResult } from './open-loop.js';
import type { RateScenario } from './realtime-options.js';
import type { ScenarioOutcome } from './scenario-runner.js';
import type { BenchStorage } from './server-process.js';

const MiB = 2 ** 20;
export const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;
export const capitalized = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);
const p99 = (result: TrialResult | undefined) => (result ? percentile(result.latenciesMs, 99) : NaN);

/** A run's latency and whose CPU it was: `…P50Ms`, `…P99Ms`, `…ServerCpuPercent`, `…NoisePercent` and so on. */
function usageFigures(prefix: string, result: TrialResult | undefined, storage: BenchStorage) {
  if (!result) return {};
  const { usage } = result;
  return {
    [`${prefix}P50Ms`]: round(percentile(result.latenciesMs, 50), 2),
    [`${prefix}P99Ms`]: round(p99(result), 2),
    [`${prefix}ServerCpuPercent`]: round(usage.serverCpuPercent, 0),
    [`${prefix}ServerRssMiB`]: round(usage.serverRssBytes / MiB, 0),
    [`${prefix}BenchCpuPercent`]: round(usage.benchCpuPercent, 0),
    ...(storage === 'sqlite' ? {} : { [`${prefix}DatabaseCpuPercent`]: round(usage.databaseCpuPercent, 0) }),
    [`${prefix}NoisePercent`]: round(usage.noisePercent, 0),
    ...(Number.isNaN(usage.serverCoreOtherPercent)
      ? {}
      : { [`${prefix}ServerCoreOtherPercent`]: round(usage.serverCoreOtherPercent, 0) }),
  };
}

/** One scenario on one server: its confirmed rate, the confirm run's figures, the reference run's p99. */
export function scenarioFigures(
  prefix: string,
  outcome: ScenarioOutcome,
  storage: BenchStorage,
): Record<string, number> {
  const { search, reference, fanOut } = outcome;
  return {
    [`${prefix}RatePerSecond`]: search.rate,
    ...(fanOut > 1 ? { [`${prefix}DeliveriesPerSecond`]: round(search.rate * fanOut, 0) } : {}),
    [`${prefix}Confirmed`]: search.confirmed ? 1 : 0,
    ...usageFigures(prefix, search.result, storage),
    ...(reference
      ? { [`${prefix}RefRatePerSecond`]: reference.rate, [`${prefix}RefP99Ms`]: round(p99(reference), 2) }
      : {}),
    [`${prefix}StoredMessagesAtStart`]: outcome.storedAtStart,
  };
}

const change = (grown: number, fresh: number) => round(((grown - fresh) / fresh) * 100);

/**
 * Fresh and grown side by side (issue 11: within 15 %): printed as a block and returned as
 * `…RateGrownVsFreshPercent`, `…P99GrownVsFreshPercent` and `…RefP99GrownVsFreshPercent` figures.
 */
export function comparison(
  prefix: string,
  fresh: ReadonlyMap<RateScenario, ScenarioOutcome>,
  grown: ReadonlyMap<RateScenario, ScenarioOutcome>,
): Record<string, number> {
  const figures: Record<string, number> = {};
  const lines = [`realtime: ${prefix}: fresh → grown (rate; p99 at it; p99 at the common reference rate)`];
  for (const [scenario, before] of fresh) {
    const after = grown.get(scenario);
    if (!after) continue;
    const name = `${prefix}${capitalized(scenario)}`;
    const rateChange = change(after.search.rate, before.search.rate);
    figures[`${name}RateGrownVsFreshPercent`] = rateChange;
    figures[`${name}P99GrownVsFreshPercent`] = change(p99(after.search.result), p99(before.search.result));
    if (before.reference && after.reference)
      figures[`${name}RefP99GrownVsFreshPercent`] = change(p99(after.reference), p99(before.reference));
    const rate = (outcome: ScenarioOutcome) => outcome.search.rate.toLocaleString('en-US').padStart(7);
    const ms = (result: TrialResult | undefined) => p99(result).toFixed(1);
    lines.push(
      `  ${scenario.padEnd(8)} ${rate(before)} → ${rate(after)} ${before.unit}/s (${rateChange}%); ` +
        `p99 ${ms(before.search.result)} → ${ms(after.search.result)} ms; ` +
        `ref p99 ${ms(before.reference)} → ${ms(after.reference)} ms`,
    );
  }
  console.log(lines.join('\n'));
  return figures;
}
