import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandLanguages, readmeBlocks, type ReadmeBlock } from '../support/readme-blocks.ts';
import { parley } from '../support/run-cli.ts';

/*
 * The README's commands, run as a reader runs them: every `sh` block in order in one bash session, the `js`
 * files it asks the reader to save written where it says, against a real `parley start` (the compiled
 * server). The session runs from a scratch directory that stands for the repository root: its `node_modules`
 * is the repository's, so `npx parley`, `@parley/client` and `otpauth` resolve as they do there, and the
 * server's default data directory `./data` is its own. Then the test checks each step's effect through the
 * API itself, not only what the commands printed.
 */

const root = path.resolve(import.meta.dirname, '../../../..');
const parleyBin = path.join(root, 'packages/server/bin/parley.js');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
/** The values the README's first steps leave in the shell, read back at the end of the session. */
const sessionVariables = ['TENANT', 'ADA_TOKEN', 'GRACE_ID', 'GRACE_TOKEN', 'DIALOG'] as const;
type SessionVariables = Record<(typeof sessionVariables)[number], string>;

/** What the README's example banner shows in place of this run's own URL, directory and fingerprint. */
const bannerUrl = 'https://localhost:8443';
const bannerRoot = '/home/you/parley';
const fingerprint = /\b[0-9A-F]{2}(?::[0-9A-F]{2}){31}\b/g;
/** The session waits up to 30 s for a fresh TOTP code; the rest takes some 20 s on a busy 2-core machine. */
const sessionDeadlineMs = 180_000;

interface SessionResult {
  /** bash's exit code; 128 when it was killed. */
  code: number;
  /** stdout and stderr of every command, in order, with the block markers between. */
  transcript: string;
}

const requiredTools = ['bash', 'curl', 'jq'].filter(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
);
const skip = requiredTools.length > 0 && process.env.CI !== 'true';
if (skip) process.stdout.write(`SKIPPING README first steps: ${requiredTools.join(', ')} not installed\n`);

/** Without PARLEY_* settings or test-runner flags of ours: the session sees what a reader's shell sees. */
function readerEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(PARLEY_|VITEST|NODE_OPTIONS$|NODE_EXTRA_CA_CERTS$)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

interface Step {
  block: ReadmeBlock;
  /** Where its output starts in the transcript: `@@readme-block N@@`. */
  index: number;
  kind: 'run' | 'file';
}

/**
 * Every command block is run, written as a file, or marked not run with a reason. The one exception, the
 * quick start's `npm install && npm start / npm test` line, is what this test stands in for (it starts the
 * built server) and what `.ci/run` runs itself.
 */
function planSession(blocks: ReadmeBlock[]): Step[] {
  const steps: Step[] = [];
  for (const block of blocks) {
    if (!commandLanguages.has(block.lang)) continue;
    if (block.marker?.kind === 'not-run') continue;
    if (block.section === 'Quick start' && block.text.trimStart().startsWith('npm install')) continue;
    if (block.marker?.kind === 'file') {
      steps.push({ block, index: steps.length, kind: 'file' });
      continue;
    }
    if (!['sh', 'bash', 'shell'].includes(block.lang)) {
      throw new Error(
        `README line ${String(block.line)}: a \`${block.lang}\` block must be a file the reader saves ` +
          '(`<!-- readme-test: file NAME -->`) or be marked `<!-- readme-test: not run: REASON -->`',
      );
    }
    steps.push({ block, index: steps.length, kind: 'run' });
  }
  return steps;
}

function sessionScript(steps: Step[]): string {
  const parts = ['set -euo pipefail', 'exec 2>&1'];
  for (const step of steps) {
    parts.push(`printf '\\n@@readme-block ${String(step.index)}@@\\n'`);
    if (step.block.marker?.kind === 'file') {
      parts.push(`cat > '${step.block.marker.name}' <<'@@README_FILE@@'`, step.block.text, '@@README_FILE@@');
    } else {
      parts.push(step.block.text);
    }
  }
  parts.push(`printf '\\n@@readme-variables@@\\n'`);
  parts.push(`for name in ${sessionVariables.join(' ')}; do printf '%s=%s\\n' "$name" "\${!name-}"; done`);
  return `${parts.join('\n')}\n`;
}

/** Splits the transcript at the block markers: what each step printed. */
function outputsOf(
  transcript: string,
  steps: Step[],
): { outputs: string[]; variables: Partial<SessionVariables> } {
  const outputs = steps.map((step) => {
    const start = transcript.indexOf(`@@readme-block ${String(step.index)}@@`);
    if (start < 0) return '';
    const rest = transcript.slice(start).split('\n').slice(1).join('\n');
    const end = rest.search(/@@readme-(block \d+|variables)@@/);
    return end < 0 ? rest : rest.slice(0, end);
  });
  const variables: Partial<SessionVariables> = {};
  const tail = transcript.split('@@readme-variables@@')[1] ?? '';
  for (const line of tail.split('\n')) {
    const [name, ...value] = line.split('=');
    if ((sessionVariables as readonly string[]).includes(name ?? '')) {
      variables[name as keyof SessionVariables] = value.join('=');
    }
  }
  return { outputs, variables };
}

interface Server {
  child: ChildProcessWithoutNullStreams;
  url: string;
  port: string;
  banner: string;
  ca: string;
}

async function startServer(cwd: string): Promise<Server> {
  const child = spawn(process.execPath, [parleyBin, 'start'], {
    cwd,
    env: readerEnvironment({ PARLEY_PORT: '0', PARLEY_HOST: '127.0.0.1' }),
  });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  return new Promise<Server>((resolve, reject) => {
    // The banner is one write to stderr, so it arrives whole.
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const listening = /Parley is listening on (https:\/\/127\.0\.0\.1:(\d+)) /.exec(stderr);
      const cert = /TLS: self-signed certificate (\S+)/.exec(stderr);
      if (listening?.[1] && listening[2] && cert?.[1]) {
        resolve({
          child,
          url: listening[1],
          port: listening[2],
          banner: stderr.trimEnd(),
          ca: readFileSync(cert[1], 'utf8'),
        });
      }
    });
    child.once('exit', (code, signal) => {
      reject(new Error(`parley start exited (${String(code ?? signal)}):\n${stdout}\n${stderr}`));
    });
  });
}

/**
 * Runs the session in a process group of its own: past the deadline the whole group is killed, so a command
 * that hangs (a realtime script waiting for a message that never comes) leaves no process behind.
 */
async function runSession(cwd: string, script: string, port: string): Promise<SessionResult> {
  writeFileSync(path.join(cwd, 'first-steps.sh'), script);
  const child = spawn('bash', ['first-steps.sh'], {
    cwd,
    env: readerEnvironment({ PARLEY_PORT: port }),
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let transcript = '';
  child.stdout.on('data', (chunk: Buffer) => {
    transcript += chunk.toString();
  });
  const deadline = setTimeout(() => {
    transcript += `\n(killed after ${String(sessionDeadlineMs / 1000)} s)\n`;
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }, sessionDeadlineMs);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(deadline);
  return { code: code ?? (signal === null ? -1 : 128), transcript };
}

describe.skipIf(skip)("the README's first steps", () => {
  const blocks = readmeBlocks(readme);
  const steps = planSession(blocks);
  let workDir = '';
  let started: { server: Server; dispatcher: Agent } | undefined;
  let session: SessionResult = { code: -1, transcript: '(the session did not run)' };
  let outputs: string[] = [];
  let variables: Partial<SessionVariables> = {};

  const running = () => {
    if (!started) throw new Error('the server did not start');
    return started;
  };
  const api = async (
    method: 'GET' | 'POST',
    route: string,
    options: { token?: string; form?: string } = {},
  ) => {
    const { server, dispatcher } = running();
    const response = await request(`${server.url}${route}`, {
      method,
      dispatcher,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(options.form ? { body: options.form } : {}),
    });
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  };
  const explain = () => `README session transcript (exit ${String(session.code)}):\n${session.transcript}`;

  beforeAll(async () => {
    if (requiredTools.length > 0) throw new Error(`CI=true and not installed: ${requiredTools.join(', ')}`);
    workDir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'parley-readme-')));
    symlinkSync(path.join(root, 'node_modules'), path.join(workDir, 'node_modules'));
    const server = await startServer(workDir);
    started = { server, dispatcher: new Agent({ connect: { ca: server.ca, servername: 'localhost' } }) };
    session = await runSession(workDir, sessionScript(steps), server.port);
    ({ outputs, variables } = outputsOf(session.transcript, steps));
  }, 240_000);

  afterAll(async () => {
    if (started) {
      const { server, dispatcher } = started;
      await dispatcher.close();
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGTERM');
        await once(server.child, 'close');
      }
    }
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('has every command block outside the quick start run or marked, and the first steps among them', () => {
    const run = new Set(steps.map((step) => step.block));
    for (const block of blocks.filter((candidate) => commandLanguages.has(candidate.lang))) {
      if (block.section === 'Quick start' || run.has(block)) continue;
      expect(block.marker, `README line ${String(block.line)}`).toMatchObject({ kind: 'not-run' });
    }
    const firstSteps = steps.filter((step) => step.block.section === 'First steps');
    expect(firstSteps.filter((step) => step.kind === 'run').length).toBeGreaterThanOrEqual(8);
    // Every file the reader saves is used by a later command.
    for (const step of steps.filter((candidate) => candidate.kind === 'file')) {
      const name = step.block.marker?.kind === 'file' ? step.block.marker.name : '';
      const later = steps.slice(step.index + 1).some((other) => other.block.text.includes(name));
      expect(later, `README line ${String(step.block.line)}: ${name} is never used`).toBe(true);
    }
  });

  it('shows the banner `parley start` prints', () => {
    const shown = blocks.find((block) => block.marker?.kind === 'server-banner');
    expect(shown).toBeDefined();
    const { server } = running();
    const printed = server.banner
      .replaceAll(server.url, bannerUrl)
      .replaceAll(workDir, bannerRoot)
      .replace(fingerprint, '<fingerprint>');
    expect(printed).toBe(shown?.text.replace(fingerprint, '<fingerprint>'));
  });

  it('runs every command to the end, without an error', () => {
    expect(session.code, explain()).toBe(0);
    for (const step of steps) {
      expect(session.transcript, explain()).toContain(`@@readme-block ${String(step.index)}@@`);
    }
    for (const name of sessionVariables) {
      expect(variables[name], `${name}\n${explain()}`).toMatch(/^[\w-]{8,}$/);
    }
  });

  it('created the tenant with Ada as its owner, who now signs in with MFA only', async () => {
    const tenants = await parley(['tenant', 'list'], { PARLEY_DATA_DIR: path.join(workDir, 'data') });
    expect(JSON.parse(tenants.stdout)).toContainEqual(
      expect.objectContaining({ tenantId: variables.TENANT }),
    );
    const ada = await api('GET', '/v1/me', { token: variables.ADA_TOKEN });
    expect(ada.status, explain()).toBe(200);
    expect(ada.body).toMatchObject({ email: 'ada@example.com', roles: ['owner'], mfaEnabled: true });
    // The password alone no longer signs her in: the README's enrolment took effect.
    const form = new URLSearchParams({
      grant_type: 'password',
      tenant_id: variables.TENANT ?? '',
      username: 'ada@example.com',
      password: 'correct-horse-battery-staple',
    });
    const signIn = await api('POST', '/oauth/token', { form: form.toString() });
    expect(signIn).toMatchObject({ status: 403, body: { error: 'mfa_required' } });
    // ADA_TOKEN is from her second sign-in, the one past `mfa_required`: a session newer than the first.
    expect(session.transcript).toContain('mfa_required');
    const sessions = await api('GET', '/v1/me/sessions', { token: variables.ADA_TOKEN });
    const opened = (sessions.body.sessions as { current: boolean; createdAt: string }[]).toSorted((a, b) =>
      a.createdAt.localeCompare(b.createdAt),
    );
    expect(opened.map((entry) => entry.current)).toEqual([false, true]);
  });

  it('made Grace a member who accepted the service purpose, so her first token works in full', async () => {
    const grace = await api('GET', '/v1/me', { token: variables.GRACE_TOKEN });
    expect(grace.status, explain()).toBe(200);
    expect(grace.body).toMatchObject({ id: variables.GRACE_ID, roles: ['member'] });
    const consents = await api('GET', '/v1/me/consents', { token: variables.GRACE_TOKEN });
    expect(consents.body.consents).toContainEqual(
      expect.objectContaining({ purpose: expect.objectContaining({ key: 'service' }), state: 'granted' }),
    );
    expect(session.transcript).toContain('consent_required');
  });

  it('sent one message over REST and one over the realtime socket, and read both back', async () => {
    const ada = await api('GET', '/v1/me', { token: variables.ADA_TOKEN });
    const history = await api('GET', `/v1/dialogs/${variables.DIALOG ?? ''}/messages`, {
      token: variables.GRACE_TOKEN,
    });
    expect(history.status, explain()).toBe(200);
    const messages = history.body.messages as { seq: number; body: string; senderId: string }[];
    expect(messages.map((message) => [message.seq, message.senderId])).toEqual([
      [1, ada.body.id],
      [2, ada.body.id],
    ]);
    const [overRest, overSocket] = messages.map((message) => message.body);
    // The realtime script printed what Grace's socket received: the second message.
    const realtime = steps.findIndex(
      (step) => step.kind === 'run' && /\bnode \S+\.mjs\b/.test(step.block.text),
    );
    expect(realtime, 'a block that runs the saved script').toBeGreaterThan(0);
    expect(overSocket).toBeDefined();
    expect(outputs[realtime], explain()).toContain(overSocket);
    // A later block read the history: both messages, in order.
    const read = outputs.slice(realtime + 1).join('\n');
    expect(read.indexOf(overRest ?? '-'), explain()).toBeGreaterThanOrEqual(0);
    expect(read.indexOf(overSocket ?? '-'), explain()).toBeGreaterThan(read.indexOf(overRest ?? '-'));
  });
});
