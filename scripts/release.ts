/**
 * Makes the release artefacts: builds every package (`npm run build`, the build CI and the Dockerfile run),
 * packs the three publishable packages with `npm pack` and writes `SHA256SUMS` beside the tarballs, in the
 * format `sha256sum --check` reads. Run `npm run release`; options: `--out DIR` (default `release/`, emptied
 * first) and `--skip-build` (when the build has just run).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const workspaces = ['packages/protocol', 'packages/client', 'packages/server'];

/** One entry of `npm pack --json`'s answer (only the fields used here). */
interface PackResult {
  filename: string;
  files: { path: string }[];
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

const { values } = parseArgs({
  options: { out: { type: 'string', default: 'release' }, 'skip-build': { type: 'boolean', default: false } },
});
const outDir = path.resolve(root, values.out);

if (!values['skip-build']) {
  await run('npm', ['run', 'build'], { cwd: root });
}
await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });

const { stdout } = await run(
  'npm',
  [
    'pack',
    '--json',
    '--pack-destination',
    outDir,
    ...workspaces.flatMap((workspace) => ['--workspace', workspace]),
  ],
  { cwd: root },
);
const packed = JSON.parse(stdout) as PackResult[];
for (const { filename, files } of packed) {
  for (const required of ['package.json', 'LICENSE']) {
    if (!files.some((file) => file.path === required)) throw new Error(`${filename} lacks ${required}`);
  }
}

const lines = await Promise.all(
  packed.map(async ({ filename }) => `${await sha256(path.join(outDir, filename))}  ${filename}`),
);
await writeFile(path.join(outDir, 'SHA256SUMS'), `${lines.join('\n')}\n`);
process.stdout.write(`${lines.join('\n')}\nwritten to ${path.relative(root, outDir) || '.'}/\n`);
