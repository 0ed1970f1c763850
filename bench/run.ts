import { cpus } from 'node:os';
import { runAuditBench } from './audit-bench.js';
import { runBackupBench } from './backup-bench.js';
import { runCallsBench } from './calls-bench.js';
import { runExportBench } from './export-bench.js';
import { runIdentityBench } from './identity-bench.js';
import { runRealtimeBench } from './realtime-bench.js';
import { runRetentionBench } from './retention-bench.js';
import { runStreamCipherBench } from './stream-cipher-bench.js';

/**
 * `npm run bench -- [part ...]`: runs the named parts (all when none is named) one after another and prints
 * each part's figures as a table. Figures are measured, never judged: a benchmark has no pass or fail.
 */
const parts = {
  stream: runStreamCipherBench,
  audit: runAuditBench,
  identity: runIdentityBench,
  realtime: runRealtimeBench,
  calls: runCallsBench,
  export: runExportBench,
  retention: runRetentionBench,
  backup: runBackupBench,
} as const satisfies Record<string, () => Promise<Record<string, number>>>;

type PartName = keyof typeof parts;

const isPartName = (name: string): name is PartName => Object.hasOwn(parts, name);

/** The unit a figure is in, read from its name's suffix. */
const unitSuffixes: readonly (readonly [suffix: string, unit: string])[] = [
  ['PerSecond', '/s'],
  ['MBps', 'MB/s'],
  ['Ms', 'ms'],
  ['Us', 'µs'],
  ['megabytes', 'MB'],
  ['MiB', 'MiB'],
  ['KiB', 'KiB'],
  ['Percent', '%'],
];

function unitOf(name: string): string {
  return unitSuffixes.find(([suffix]) => name.endsWith(suffix))?.[1] ?? '';
}

function formatNumber(value: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: 3 });
}

/** Name left-aligned, value right-aligned, unit after it. */
function table(figures: Record<string, number>): string {
  const rows = Object.entries(figures).map(([name, value]) => [name, formatNumber(value), unitOf(name)]);
  const nameWidth = Math.max(...rows.map(([name = '']) => name.length));
  const valueWidth = Math.max(...rows.map(([, value = '']) => value.length));
  return rows
    .map(([name = '', value = '', unit = '']) =>
      `  ${name.padEnd(nameWidth)}  ${value.padStart(valueWidth)} ${unit}`.trimEnd(),
    )
    .join('\n');
}

function selectedParts(args: readonly string[]): PartName[] {
  const unknown = args.filter((name) => !isPartName(name));
  if (unknown.length > 0) {
    console.error(
      `unknown bench part(s): ${unknown.join(', ')}; choose from ${Object.keys(parts).join(', ')}`,
    );
    process.exit(2);
  }
  return args.length === 0 ? (Object.keys(parts) as PartName[]) : args.filter(isPartName);
}

async function main(): Promise<void> {
  const selected = selectedParts(process.argv.slice(2));
  const cpu = cpus();
  console.log(
    `parley bench — node ${process.version}, ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, ` +
      new Date().toISOString(),
  );
  for (const name of selected) {
    const started = Date.now();
    const figures = await parts[name]();
    console.log(`\n${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    console.log(table(figures));
  }
}

await main();
// Pools, timers or sockets a part left behind must not keep the process alive once the figures are out.
process.exit(0);
