import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The SDK as an app gets it: both packages packed by `npm pack` (which builds them) and installed from the
 * tarballs into a project in the system's temp dir, where nothing in this repository can be resolved.
 */

export const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');
/** The app's files, copied as they are; docs/client-sdk.md shows each of them. */
export const APP_DIR = path.resolve(import.meta.dirname, '../packaging');
export const APP_FILES = ['chat.js', 'index.html', 'main.js', 'vite.config.js'] as const;

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Settings the child npm and node must not inherit from this test run (npm run's own, Vitest's). */
const INHERITED =
  /^(npm_(?!config_(registry|cache|cafile|userconfig|globalconfig|proxy|https_proxy|noproxy)$)|node_options$|node_extra_ca_certs$|node_tls_reject_unauthorized$|vitest)/i;

/** This process's environment without the settings above, plus `extra`. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!INHERITED.test(key)) env[key] = value;
  return { ...env, ...extra };
}

/** Runs a command to its end; answers its exit code and output instead of throwing. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<ProcessResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: options.env ?? childEnv(), maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Like {@link run}, but a failure throws with everything the command printed. */
export async function runOk(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<ProcessResult> {
  const result = await run(command, args, options);
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result;
}

export interface PackedPackage {
  name: string;
  version: string;
  filename: string;
  files: { path: string }[];
}

export interface ScratchApp {
  /** The app's directory, outside the repository. */
  dir: string;
  packed: PackedPackage[];
  /** The `npm install` arguments, as docs/client-sdk.md gives them. */
  installArgs: string[];
  remove(): void;
}

/**
 * Packs @parley/protocol and @parley/client into a new app directory and installs them from there with
 * `ws` (Node's WebSocket) and Vite (the browser bundle). Dependencies come from the registry, or from npm's
 * cache when it has them.
 */
export async function createScratchApp(): Promise<ScratchApp> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'parley-sdk-app-'));
  const dir = path.join(root, 'chat-app');
  mkdirSync(dir);
  try {
    const pack = await runOk(
      'npm',
      ['pack', '--json', '-w', 'packages/protocol', '-w', 'packages/client', '--pack-destination', dir],
      { cwd: REPO_ROOT },
    );
    const packed = JSON.parse(pack.stdout) as PackedPackage[];
    writeFileSync(
      path.join(dir, 'package.json'),
      `${JSON.stringify({ name: 'chat-app', private: true, type: 'module' }, null, 2)}\n`,
    );
    for (const file of APP_FILES) copyFileSync(path.join(APP_DIR, file), path.join(dir, file));
    const installArgs = [
      'install',
      ...packed.map((item) => `./${item.filename}`),
      'ws',
      'vite',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
    ];
    await runOk('npm', installArgs, { cwd: dir });
    return {
      dir,
      packed,
      installArgs,
      remove: () => {
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

/** The app's installed Vite, run with plain Node. */
export function viteArgs(dir: string, ...args: string[]): string[] {
  return [path.join(dir, 'node_modules/vite/bin/vite.js'), ...args];
}

/** `vite preview` of the app's build on a free loopback port; answers once it listens. */
export function startVitePreview(
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ url: string; output: () => string; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    viteArgs(dir, 'preview', '--host', '127.0.0.1', '--port', '0', '--strictPort'),
    { cwd: dir, env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(output)?.[0];
      if (url) resolve({ url, output: () => output, stop });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      reject(new Error(`vite preview exited ${code}\n${output}`));
    });
  });
}
