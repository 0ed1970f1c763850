import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'vitest';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

/**
 * Runs `suite` when Debian's Prometheus (prometheus, promtool) is installed. Outside CI a missing binary
 * skips it with one printed line; with CI=true it fails, because a skipped suite there would hide a
 * regression.
 */
export function describePrometheus(title: string, suite: () => void): void {
  if (existsSync(PROMETHEUS) && existsSync(PROMTOOL)) {
    describe(`${title} [prometheus]`, suite);
    return;
  }
  const reason = `${PROMETHEUS} or ${PROMTOOL} not found (install them with: apt-get install -y prometheus)`;
  if (process.env.CI === 'true') {
    describe(`${title} [prometheus]`, () => {
      it('has prometheus and promtool installed (CI=true)', () => {
        throw new Error(`CI=true and the Prometheus suite cannot run: ${reason}`);
      });
    });
    return;
  }
  process.stdout.write(`SKIPPING the Prometheus suite: ${reason}\n`);
  describe.skip(`${title} [prometheus]`, suite);
}

export interface ToolResult {
  code: number;
  output: string;
}

/** Runs promtool with `args` (and `input` on stdin); resolves with its exit code and everything it printed. */
export function promtool(
  args: string[],
  options: { cwd?: string; input?: string } = {},
): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = execFile(PROMTOOL, args, { cwd: options.cwd }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
    child.stdin?.end(options.input ?? '');
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

export interface Prometheus {
  url: string;
  /** Everything Prometheus printed, for a failing test's message. */
  log(): string;
  /** GET /api/v1/<path> and the `data` of its answer. */
  api<T>(apiPath: string): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Starts Debian's Prometheus as a child of the test, on loopback and a free port, with `config` (YAML) and
 * any extra files beside it (rule files) in a temporary directory that also holds its data; resolves once
 * it answers /-/ready.
 */
export async function startPrometheus(
  config: string,
  files: Record<string, string> = {},
): Promise<Prometheus> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-prometheus-'));
  writeFileSync(path.join(dir, 'prometheus.yml'), config);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const port = await freePort();
  const url = `http://127.0.0.1:${String(port)}`;
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${String(port)}`,
      '--web.enable-lifecycle',
      '--log.level=warn',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr])
    if (stream) createInterface({ input: stream }).on('line', (line) => lines.push(line));
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited (${String(child.exitCode)})`);
      const ready = await fetch(`${url}/-/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error('prometheus not ready within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}:\n${lines.join('\n')}`);
  }
  return {
    url,
    log: () => lines.join('\n'),
    async api<T>(apiPath: string): Promise<T> {
      const response = await fetch(`${url}/api/v1/${apiPath}`);
      const body = (await response.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`prometheus API ${apiPath}: ${body.error ?? 'failed'}`);
      return body.data;
    },
    stop,
  };
}
