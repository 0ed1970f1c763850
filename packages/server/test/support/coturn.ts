import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'vitest';

const TURNSERVER = '/usr/bin/turnserver';

/**
 * Runs `suite` when Debian's coturn is installed. Outside CI a missing turnserver skips it with one printed
 * line; with CI=true it fails, because a skipped suite there would hide a regression.
 */
export function describeCoturn(title: string, suite: () => void): void {
  if (existsSync(TURNSERVER)) {
    describe(`${title} [coturn]`, suite);
    return;
  }
  const reason = `${TURNSERVER} not found (install it with: apt-get install -y coturn)`;
  if (process.env.CI === 'true') {
    describe(`${title} [coturn]`, () => {
      it('has turnserver installed (CI=true)', () => {
        throw new Error(`CI=true and the coturn suite cannot run: ${reason}`);
      });
    });
    return;
  }
  process.stdout.write(`SKIPPING the coturn suite: ${reason}\n`);
  describe.skip(`${title} [coturn]`, suite);
}

export interface Coturn {
  host: string;
  port: number;
  realm: string;
  secret: string;
  /** Everything coturn printed, for a failing test's message. */
  log(): string;
  stop(): Promise<void>;
}

/** A free UDP port on loopback (coturn listens on UDP and TCP at the same number). */
async function freePort(): Promise<number> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  socket.close();
  return port;
}

/**
 * Starts coturn as a child of the test, on loopback only, with the TURN REST API (`use-auth-secret`) and a
 * random secret (and any `extraSecrets`); resolves once it logs that its UDP listener is open.
 */
export async function startCoturn(options: { extraSecrets?: readonly string[] } = {}): Promise<Coturn> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-coturn-'));
  const port = await freePort();
  const realm = 'parley.test';
  const secret = randomBytes(32).toString('hex');
  const secrets = [secret, ...(options.extraSecrets ?? [])];
  const child: ChildProcess = spawn(
    TURNSERVER,
    [
      '-n', // no configuration file: only these options
      '--verbose', // prints the "listener opened" line we wait for
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${String(port)}`,
      '--use-auth-secret',
      // Several secrets are all accepted: that is how a secret is rotated (docs/calls.md).
      ...secrets.map((entry) => `--static-auth-secret=${entry}`),
      `--realm=${realm}`,
      '--no-tls',
      '--no-dtls',
      '--no-tcp-relay',
      '--allow-loopback-peers',
      '--no-cli',
      '--no-software-attribute',
      '--log-file=stdout',
      '--simple-log',
      `--db=${path.join(dir, 'turndb')}`,
      `--pidfile=${path.join(dir, 'turnserver.pid')}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  const exited = once(child, 'exit');
  const ready = new Promise<void>((resolve, reject) => {
    const listening = `UDP listener opened on: 127.0.0.1:${String(port)}`;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        if (line.includes(listening)) resolve();
      });
    }
    child.once('error', reject);
    exited.then(([code]) => {
      reject(new Error(`turnserver exited (${String(code)}) before listening:\n${lines.join('\n')}`));
    }, reject);
  });
  await ready;
  return {
    host: '127.0.0.1',
    port,
    realm,
    secret,
    log: () => lines.join('\n'),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
