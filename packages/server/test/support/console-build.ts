import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');
const CONSOLE = path.join(REPO_ROOT, 'packages/console');
const LOCK = path.join(CONSOLE, '.build-lock');
const STAMP = path.join(CONSOLE, 'dist/.built-by-tests');
/** What the console's build is made from: a change to any of these makes dist/ stale. */
const SOURCES = [
  path.join(CONSOLE, 'src'),
  path.join(CONSOLE, 'index.html'),
  path.join(CONSOLE, 'app.html'),
  path.join(CONSOLE, 'vite.config.ts'),
  path.join(REPO_ROOT, 'packages/client/src'),
  path.join(REPO_ROOT, 'packages/protocol/src'),
];
/** A lock older than this was left by a process that died while building. */
const STALE_LOCK_MS = 5 * 60_000;

function newestChange(entry: string): number {
  let stat;
  try {
    stat = statSync(entry);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(entry).reduce(
    (newest, name) => Math.max(newest, newestChange(path.join(entry, name))),
    stat.mtimeMs,
  );
}

function builtAt(): number {
  try {
    return statSync(STAMP).mtimeMs;
  } catch {
    return 0;
  }
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * The console as `npm run build` builds it (Vite, into packages/console/dist; NODE_ENV=production for React's
 * production build), for browser tests in parallel test processes: Vite refuses a second build of the project
 * while one runs, so builds take turns under a lock directory, and a build made by this helper after the last
 * change to the console's, the SDK's and the protocol's sources is not made again (nor is dist/ emptied under
 * another file's open pages).
 */
export function buildConsole(): void {
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      const held = newestChange(LOCK);
      if (held > 0 && Date.now() - held > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      else pause(250);
    }
  }
  try {
    if (builtAt() > Math.max(...SOURCES.map(newestChange))) return;
    execFileSync('npm', ['run', 'build', '-w', 'packages/console'], {
      cwd: REPO_ROOT,
      stdio: 'pipe',
      env: { ...process.env, NODE_ENV: 'production' },
    });
    writeFileSync(STAMP, new Date().toISOString());
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
