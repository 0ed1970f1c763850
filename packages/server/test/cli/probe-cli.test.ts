import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { parley } from '../support/run-cli.ts';
import { type ChatTenant, newChatTenant } from '../support/sdk-clients.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * `parley probe` against a real server, as cron or a systemd timer runs it: a separate process that trusts
 * the server's self-signed certificate through NODE_EXTRA_CA_CERTS and reads its credentials from the
 * environment (or a file), never from its arguments.
 */
describeEachDialect('parley probe', (dialect) => {
  let server: TestServer;
  let tenant: ChatTenant;
  let url: string;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    tenant = await newChatTenant(server, 'Probe Inc');
    // The certificate names localhost, not 127.0.0.1.
    url = server.url.replace('127.0.0.1', 'localhost');
    dir = mkdtempSync(path.join(os.tmpdir(), 'parley-probe-'));
    env = {
      NODE_EXTRA_CA_CERTS: server.app.tls?.certFile ?? '',
      PARLEY_PROBE_USERNAME: tenant.bob.email,
      PARLEY_PROBE_PASSWORD: tenant.bob.password,
    };
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const probe = (args: string[], extra: Record<string, string> = {}) =>
    parley(['probe', '--url', url, '--tenant', tenant.owner.tenantId, ...args], { ...env, ...extra });

  it('signs in, sends over the realtime socket, receives it, finds it by search, and exits 0', async () => {
    const first = await probe([]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /^probe ok: sign_in \d+ ms, dialog \d+ ms, realtime_connect \d+ ms, send_receive \d+ ms, search \d+ ms\n$/,
    );
    // The second run reuses the probe dialog it created, and left no message behind.
    const second = await probe(['--prometheus']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('parley_probe_success 1\n');
    for (const step of ['sign_in', 'dialog', 'realtime_connect', 'send_receive', 'search'])
      expect(second.stdout).toMatch(
        new RegExp(`parley_probe_step_duration_seconds\\{step="${step}"\\} \\d+\\.\\d{3}\\n`),
      );
    const dialogs = await server.request('/v1/dialogs', {
      headers: { authorization: `Bearer ${tenant.owner.accessToken}` },
    });
    expect(dialogs.status).toBe(200);
  });

  it('a wrong password fails at sign_in with the refusal, and the password is not printed', async () => {
    const wrong = 'not the probe password at all';
    const result = await probe(['--prometheus'], { PARLEY_PROBE_PASSWORD: wrong });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^probe failed at sign_in: sign-in refused \(invalid_grant, HTTP 400\)\n$/);
    expect(result.stdout).toContain('parley_probe_success 0\n');
    expect(result.stdout).toContain('parley_probe_step_success{step="sign_in"} 0\n');
    expect(result.stdout + result.stderr).not.toContain(wrong);
  });

  it('a server that is down fails at sign_in: it cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) =>
      closed.close(() => {
        resolve();
      }),
    );
    const result = await parley(
      ['probe', '--url', `https://localhost:${port}`, '--tenant', tenant.owner.tenantId],
      env,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^probe failed at sign_in: cannot reach the server \(ECONNREFUSED\)\n$/);
  });

  it('a step that runs over its budget fails with the budget named', async () => {
    // Accepts connections and never answers: the TLS handshake, and so sign-in, hangs.
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const result = await parley(
        [
          'probe',
          '--url',
          `https://localhost:${port}`,
          '--tenant',
          tenant.owner.tenantId,
          '--step-timeout',
          '1500',
        ],
        env,
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('probe failed at sign_in: exceeded its time budget of 1500 ms\n');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) =>
        silent.close(() => {
          resolve();
        }),
      );
    }
  });

  it('takes credentials from a file only its owner can read, and refuses to run without credentials', async () => {
    const file = path.join(dir, 'probe.json');
    writeFileSync(file, JSON.stringify({ username: tenant.bob.email, password: tenant.bob.password }));
    chmodSync(file, 0o644);
    const noEnv = { PARLEY_PROBE_USERNAME: '', PARLEY_PROBE_PASSWORD: '' };
    const open = await probe(['--credentials-file', file], noEnv);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/readable by others; chmod 600/);
    chmodSync(file, 0o600);
    expect((await probe(['--credentials-file', file], noEnv)).code).toBe(0);
    const missing = await probe([], noEnv);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/PARLEY_PROBE_USERNAME and PARLEY_PROBE_PASSWORD/);
  });
});
