import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLockedError } from '../../src/storage/data-dir-lock.ts';
import { startTestServer } from '../support/start-server.ts';

const parleyBin = path.resolve(import.meta.dirname, '../../bin/parley.js');

/** `parley start` as a real process; resolves once its banner (on stderr) names the URL. */
interface Started {
  child: ChildProcessWithoutNullStreams;
  url: string;
  ca: string;
  stdout: () => string;
  stderr: () => string;
}

const children: ChildProcessWithoutNullStreams[] = [];

function spawnStart(dataDir: string): {
  child: ChildProcessWithoutNullStreams;
  started: Promise<Started>;
  stderr: () => string;
} {
  const child = spawn(process.execPath, [parleyBin, 'start'], {
    env: {
      ...process.env,
      PARLEY_DATA_DIR: dataDir,
      PARLEY_PORT: '0',
      PARLEY_HOST: '127.0.0.1',
      PARLEY_LOG_LEVEL: 'info',
    },
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const started = new Promise<Started>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const url = /Parley is listening on (https:\/\/\S+) /.exec(stderr)?.[1];
      const cert = /TLS: self-signed certificate (\S+)/.exec(stderr)?.[1];
      if (url !== undefined && cert !== undefined) {
        resolve({ child, url, ca: readFileSync(cert, 'utf8'), stdout: () => stdout, stderr: () => stderr });
      }
    });
    child.once('exit', (code, signal) => {
      reject(new Error(`exited (${code ?? signal ?? '?'}) before listening:\n${stdout}\n${stderr}`));
    });
  });
  return { child, started, stderr: () => stderr };
}

/** Waits until the process exited and its output streams closed (everything it wrote has been read). */
async function exitOf(child: ChildProcessWithoutNullStreams): Promise<number | NodeJS.Signals | null> {
  if (child.stdout.closed && child.stderr.closed && (child.exitCode !== null || child.signalCode !== null))
    return child.exitCode ?? child.signalCode;
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  return code ?? signal;
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exitOf(child);
    }
  }
});

describe('parley start', () => {
  it('writes only JSON log lines to stdout, each naming the node; the banner goes to stderr', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-stdout-'));
    try {
      const server = await spawnStart(dataDir).started;
      const dispatcher = new Agent({ connect: { ca: server.ca, servername: 'localhost' } });
      const response = await request(`${server.url}/livez`, { dispatcher });
      await response.body.text();
      await dispatcher.close();
      server.child.kill('SIGTERM');
      expect(await exitOf(server.child)).toBe(0);
      const lines = server.stdout().split('\n').filter(Boolean);
      const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(entries.map((entry) => entry.msg)).toEqual(
        expect.arrayContaining(['incoming request', 'request completed', 'shutdown complete']),
      );
      expect(new Set(entries.map((entry) => entry.nodeId)).size).toBe(1);
      expect(entries[0]?.nodeId).toEqual(expect.any(String));
      expect(server.stdout()).not.toContain('Parley is listening on');
      expect(server.stderr()).toContain('npx parley tenant create --name');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses a second server on the same SQLite data directory; a SIGKILLed server leaves no stale lock', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-lock-'));
    try {
      const first = await spawnStart(dataDir).started;
      const second = spawnStart(dataDir);
      second.started.catch(() => undefined);
      expect(await exitOf(second.child)).toBe(1);
      const message = second.stderr();
      expect(message).toContain(`another Parley server is already using the data directory ${dataDir}`);
      expect(message).toContain(`pid ${String(first.child.pid)}`);
      expect(message).toContain('PARLEY_DATA_DIR');
      // The first server is unharmed by the attempt.
      expect(first.child.exitCode).toBeNull();

      // No shutdown hook runs on SIGKILL: the kernel drops the lock with the process.
      first.child.kill('SIGKILL');
      expect(await exitOf(first.child)).toBe('SIGKILL');
      const third = await spawnStart(dataDir).started;
      third.child.kill('SIGTERM');
      expect(await exitOf(third.child)).toBe(0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('data directory lock in one process', () => {
  it('refuses a second app on the same SQLite data directory until the first shut down', async () => {
    const first = await startTestServer();
    const dataDir = first.database.dataDir;
    try {
      await expect(startTestServer({ env: { PARLEY_DATA_DIR: dataDir } })).rejects.toThrow(
        DataDirLockedError,
      );
      await first.app.shutdown();
      const again = await startTestServer({ env: { PARLEY_DATA_DIR: dataDir } });
      await again.app.shutdown();
    } finally {
      await first.database.drop();
    }
  });
});
