import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterEach, expect, it } from 'vitest';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../support/dialects.ts';
import { DialogStreamClient } from '../support/dialog-stream-client.ts';
import { parley } from '../support/run-cli.ts';

const parleyBin = path.resolve(import.meta.dirname, '../../bin/parley.js');
const password = 'copper kettle on a cold stove';
const IN_FLIGHT = 8;
const KILL_AFTER_ACKS = 40;

/** `parley start` as a real process, so it can be killed with SIGKILL (no shutdown hook runs). */
interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  ca: string;
  dispatcher: Agent;
}

async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, [parleyBin, 'start'], { env: { ...process.env, ...env } });
  let output = '';
  const listening = new Promise<{ url: string; ca: string }>((resolve, reject) => {
    // The banner comes on stderr, the JSON logs on stdout.
    const onOutput = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /Parley is listening on (https:\/\/\S+) /.exec(output)?.[1];
      const cert = /TLS: self-signed certificate (\S+)/.exec(output)?.[1];
      if (url !== undefined && cert !== undefined) resolve({ url, ca: readFileSync(cert, 'utf8') });
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    child.once('exit', (code, signal) => {
      reject(new Error(`server exited (${code ?? signal ?? '?'}) before listening: ${output}`));
    });
  });
  const { url, ca } = await listening;
  return { child, url, ca, dispatcher: new Agent({ connect: { ca, servername: 'localhost' } }) };
}

async function call<T>(server: ServerProcess, route: string, body?: unknown, token?: string, form = false) {
  const response = await request(`${server.url}${route}`, {
    dispatcher: server.dispatcher,
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      ...(body === undefined
        ? {}
        : { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body:
      body === undefined
        ? null
        : form
          ? new URLSearchParams(body as Record<string, string>).toString()
          : JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${route}: ${response.statusCode} ${text}`);
  return JSON.parse(text) as T;
}

const signIn = async (server: ServerProcess, tenantId: string, email: string) => {
  const answer = await call<{ access_token: string; parley_notice?: string }>(
    server,
    '/oauth/token',
    { grant_type: 'password', tenant_id: tenantId, username: email, password, scope: 'profile chat admin' },
    undefined,
    true,
  );
  // A member made by an admin accepts the required `service` purpose at the first sign-in, as any client does.
  if (answer.parley_notice === 'consent_required') {
    const granted = await request(`${server.url}/v1/me/consents/service`, {
      dispatcher: server.dispatcher,
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${answer.access_token}` },
      body: JSON.stringify({ version: 1 }),
    });
    if (granted.statusCode !== 200)
      throw new Error(`consent: ${granted.statusCode} ${await granted.body.text()}`);
    await granted.body.dump();
  }
  return answer.access_token;
};

interface Sent {
  dialogId: string;
  body: string;
  sender: number;
}

/**
 * Issue 5 §7b: the server process is killed with SIGKILL in the middle of a burst of sends over WSS. After a
 * restart on the same data, every send that was acknowledged is in the history at the sequence number its
 * ack named, and the client's retries (every send it has no ack for, plus a few it has, as an unsure client
 * would) are idempotent: no client id is stored twice and every dialog's sequence stays gap-free.
 */
describeEachDialect('acknowledged sends survive SIGKILL mid-burst; retries never duplicate', (dialect) => {
  let database: TestDatabase | undefined;
  let running: ServerProcess | undefined;

  afterEach(async () => {
    if (running && running.child.exitCode === null && running.child.signalCode === null) {
      const exited = once(running.child, 'exit');
      running.child.kill('SIGKILL');
      await exited;
    }
    await running?.dispatcher.close();
    await database?.drop();
  });

  it('keeps every acked message at its acked seq and stores each client id once after retries', async () => {
    database = createTestDatabase(dialect);
    const env = {
      ...database.env,
      PARLEY_HOST: '127.0.0.1',
      PARLEY_PORT: '0',
      PARLEY_LOG_LEVEL: 'warn',
      PARLEY_REALTIME_FRAMES_PER_SECOND: '1000',
      PARLEY_SEND_RATE_PER_SECOND: '100000',
      PARLEY_SEND_BURST: '100000',
    };
    running = await startServer(env);
    let server = running;
    const created = await parley(['tenant', 'create', '--name', 'Crash Test Bakery'], env);
    const tenant = JSON.parse(created.stdout) as { tenantId: string; ownerSetupToken: string };
    const ownerEmail = 'owner@crash.example';
    await call(server, `/v1/tenants/${tenant.tenantId}/setup`, {
      setupToken: tenant.ownerSetupToken,
      displayName: 'Olga Owner',
      email: ownerEmail,
      password,
      acceptedPurposes: [{ key: 'service', version: 1 }],
    });
    const ownerToken = await signIn(server, tenant.tenantId, ownerEmail);
    const { userId: memberId } = await call<{ userId: string }>(
      server,
      '/v1/users',
      { displayName: 'Max Member', email: 'max@crash.example', password, roles: ['member'] },
      ownerToken,
    );
    const memberToken = await signIn(server, tenant.tenantId, 'max@crash.example');
    const dialogs = [
      await call<{ id: string }>(
        server,
        '/v1/dialogs',
        { type: 'group', name: 'Burst', memberIds: [memberId] },
        ownerToken,
      ),
      await call<{ id: string }>(
        server,
        '/v1/dialogs',
        { type: 'private', memberIds: [memberId] },
        ownerToken,
      ),
    ].map((dialog) => dialog.id);
    const tokens = [ownerToken, memberToken];

    // The burst: both users send alternately into both dialogs, IN_FLIGHT sends outstanding each, until
    // KILL_AFTER_ACKS acks have arrived; then SIGKILL, with sends still in flight.
    const sent = new Map<string, Sent>();
    const acked = new Map<string, { seq: number; messageId: string }>();
    const connectAll = async (target: ServerProcess) => {
      const clients = tokens.map(
        (token) => new DialogStreamClient(target.url, target.ca, token, dialogs[0] ?? ''),
      );
      await Promise.all(clients.map((client) => client.connect()));
      return clients;
    };
    const senders = await connectAll(server);
    let killed = false;
    const kill = once(server.child, 'exit');
    senders.forEach((client, sender) => {
      let n = 0;
      const sendNext = () => {
        if (killed) return;
        n += 1;
        const id = `burst-${sender}-${n}`;
        const message = { dialogId: dialogs[n % 2] ?? '', body: `burst ${sender}/${n}`, sender };
        sent.set(id, message);
        client.send({ type: 'message.send', id, dialogId: message.dialogId, body: message.body });
      };
      client.onAck = (ack) => {
        acked.set(ack.id, { seq: ack.seq, messageId: ack.messageId });
        if (acked.size >= KILL_AFTER_ACKS && !killed) {
          killed = true;
          server.child.kill('SIGKILL');
        }
        sendNext();
      };
      for (let k = 0; k < IN_FLIGHT; k += 1) sendNext();
    });
    await kill;
    await Promise.all(senders.map((client) => client.disconnect(true)));
    await server.dispatcher.close();
    const ackedBeforeKill = new Map(acked);
    expect(sent.size).toBeGreaterThan(ackedBeforeKill.size);

    // Restart on the same data and retry, with the same client ids: every unacked send, and the last few
    // acked ones.
    running = await startServer(env);
    server = running;
    const retriers = await connectAll(server);
    const retry = [
      ...[...sent.keys()].filter((id) => !ackedBeforeKill.has(id)),
      ...[...ackedBeforeKill.keys()].slice(-5),
    ];
    const retried = new Map<string, number>();
    await new Promise<void>((resolve) => {
      for (const client of retriers) {
        client.onAck = (ack) => {
          retried.set(ack.id, ack.seq);
          if (retried.size === retry.length) resolve();
        };
      }
      for (const id of retry) {
        const message = sent.get(id);
        if (!message) continue;
        retriers[message.sender]?.send({
          type: 'message.send',
          id,
          dialogId: message.dialogId,
          body: message.body,
        });
      }
    });
    await Promise.all(retriers.map((client) => client.disconnect(false)));
    console.info(
      `crash during burst [${dialect}]: ${sent.size} sent, ${ackedBeforeKill.size} acked before SIGKILL, ${retry.length} retried`,
    );

    const stored: {
      clientId: string | null;
      seq: number;
      id: string;
      body: string | null;
      dialogId: string;
    }[] = [];
    for (const dialogId of dialogs) {
      const page = await call<{ messages: typeof stored }>(
        server,
        `/v1/dialogs/${dialogId}/messages?after=0&limit=200`,
        undefined,
        ownerToken,
      );
      const seqs = page.messages.map((message) => message.seq);
      expect(seqs, `dialog ${dialogId}: seqs gap-free`).toEqual(seqs.map((_, index) => index + 1));
      stored.push(...page.messages.map((message) => ({ ...message, dialogId })));
    }
    const byClientId = new Map(stored.map((message) => [message.clientId ?? '', message]));
    expect(byClientId.size, 'no client id stored twice').toBe(stored.length);
    expect([...byClientId.keys()].sort()).toEqual([...sent.keys()].sort());
    for (const [id, ack] of ackedBeforeKill) {
      expect(byClientId.get(id), `acked ${id}`).toMatchObject({ seq: ack.seq, id: ack.messageId });
      if (retried.has(id)) expect(retried.get(id), `retried ${id}`).toBe(ack.seq);
    }
    for (const [id, message] of sent)
      expect(byClientId.get(id), id).toMatchObject({ dialogId: message.dialogId, body: message.body });
    for (const [id, seq] of retried) expect(byClientId.get(id)?.seq, `retry of ${id}`).toBe(seq);
  }, 120_000);
});
