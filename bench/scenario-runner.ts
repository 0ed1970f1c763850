import type { CpuMeter } from './cpu-meter.js';
import { percentile, runOpenLoop, type TrialResult } from './open-loop.js';
import { judge, roundRate, searchRate, type SearchOutcome, trialLine } from './rate-search.js';
import type { RateScenario } from './realtime-options.js';
import { type ServerContext, scenarioSetups } from './realtime-scenarios.js';

/** What one scenario measured on one server. */
export interface ScenarioOutcome {
  scenario: RateScenario;
  unit: string;
  fanOut: number;
  search: SearchOutcome;
  /** The run at the common reference rate, when one was asked for. */
  reference: TrialResult | undefined;
  /** Messages in the database when the scenario began (grown plus what the bench had stored). */
  storedAtStart: number;
}

const PAUSE_BETWEEN_TRIALS_MS = 300;
const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * Sets a scenario up, finds its highest passing rate (or runs it at its fixed rate), then runs it once at
 * `referenceRate` when that is above 0, printing every trial on one line.
 */
export async function measureScenario(
  context: ServerContext,
  meter: CpuMeter,
  scenario: RateScenario,
  label: string,
  start: { rate: number; informed: boolean },
  referenceRate: (found: number) => number,
): Promise<ScenarioOutcome> {
  const { options } = context;
  const began = performance.now();
  const storedAtStart = context.fixture.storedMessages + context.benchMessages;
  const prepared = await scenarioSetups[scenario](context);
  const name = `${label} ${scenario}`;
  console.log(
    `realtime: ${name}: ${prepared.unit}/s` +
      (prepared.fanOut > 1 ? ` (× ${prepared.fanOut} deliveries)` : '') +
      `, ${storedAtStart.toLocaleString('en-US')} messages stored`,
  );
  const trial = async (rate: number, windowSeconds: number, kind: string) => {
    const result = await runOpenLoop(prepared.workload, { ...options.trial, rate, windowSeconds }, meter);
    const verdict = judge(result, options.pass);
    console.log(`realtime: ${trialLine(name, kind, result, verdict, options.noiseLimitPercent)}`);
    await sleep(PAUSE_BETWEEN_TRIALS_MS);
    return { ...verdict, result };
  };
  try {
    const fixed = options.fixedRates[scenario];
    let search: SearchOutcome;
    if (fixed === undefined) {
      search = await searchRate(trial, {
        ...options.search,
        startRate: start.rate,
        // From an earlier run's answer the rate is near: small steps bracket it in a trial or two.
        growth: start.informed ? 1.25 : 2,
      });
    } else {
      const { pass, result } = await trial(fixed, options.search.confirmSeconds, 'fixed');
      search = { rate: fixed, result, confirmed: pass, trials: 1 };
    }
    const atRate = roundRate(referenceRate(search.rate));
    const reference =
      atRate > 0 ? (await trial(atRate, options.search.confirmSeconds, 'ref')).result : undefined;
    const p99 = search.result ? percentile(search.result.latenciesMs, 99).toFixed(1) : '–';
    console.log(
      `realtime: ${name}: ${search.confirmed ? '' : 'NOT CONFIRMED '}${search.rate.toLocaleString('en-US')} ` +
        `${prepared.unit}/s` +
        (prepared.fanOut > 1
          ? ` = ${(search.rate * prepared.fanOut).toLocaleString('en-US')} deliveries/s`
          : '') +
        `, p99 ${p99} ms (${search.trials} trials, ${((performance.now() - began) / 1000).toFixed(0)} s)`,
    );
    return { scenario, unit: prepared.unit, fanOut: prepared.fanOut, search, reference, storedAtStart };
  } finally {
    context.benchMessages += await prepared.close();
  }
}
