import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/**
 * `node --import tsx bench/cpu-profile-summary.ts <file.cpuprofile> [top]`: the functions with the most self
 * time in a V8 CPU profile (as `node --cpu-prof` writes it), and the same grouped by source file, so a
 * benchmark run can say where the server's time goes. Idle time (the event loop waiting) is listed apart.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArgument] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: cpu-profile-summary <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArgument ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map<number, number>();
profile.samples.forEach((id, index) => {
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
});

const where = (url: string): string => {
  if (url === '') return '(native)';
  const path = url.replace(/^file:\/\//, '');
  const nodeModules = path.lastIndexOf('node_modules/');
  if (nodeModules >= 0) return path.slice(nodeModules + 'node_modules/'.length);
  return path.startsWith('/') ? relative(process.cwd(), path) : path;
};

const functions = new Map<string, number>();
const files = new Map<string, number>();
let total = 0;
for (const [id, micros] of selfMicros) {
  const node = byId.get(id);
  if (!node) continue;
  total += micros;
  const { functionName, url, lineNumber } = node.callFrame;
  const name = `${functionName || '(anonymous)'}  ${where(url)}${url ? `:${lineNumber + 1}` : ''}`;
  functions.set(name, (functions.get(name) ?? 0) + micros);
  const source = url
    ? where(url).replace(/^(@[^/]+\/[^/]+|[^/]+)\/.*$/, (match, pkg: string) =>
        url.includes('node_modules') ? pkg : match,
      )
    : functionName;
  files.set(source, (files.get(source) ?? 0) + micros);
}

const print = (title: string, entries: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [name, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(
      `${((micros / total) * 100).toFixed(1).padStart(5)} %  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${name}`,
    );
  }
};
// Inclusive time of the server's own functions (packages/*/src): which code paths the time is spent under.
const parents = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
const inclusive = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const seen = new Set<string>();
  for (let current: number | undefined = id; current !== undefined; current = parents.get(current)) {
    const { functionName, url } = byId.get(current)?.callFrame ?? { functionName: '', url: '' };
    if (!/packages\/[a-z]+\/src\//.test(url)) continue;
    const name = `${functionName || '(anonymous)'}  ${where(url)}`;
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + micros);
  }
}

console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`);
print('Self time by function', functions);
print('Self time by file or package', files);
print('Inclusive time of server functions (synchronous part of each call)', inclusive);
