import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { Agent, request } from 'undici';
import { type App, createApp } from '../packages/server/src/app.js';
import { loadConfig } from '../packages/server/src/config.js';
import { PasswordHasher } from '../packages/server/src/identity/passwords/password-hasher.js';
import type { DialectName } from '../packages/server/src/storage/dialects/dialect-adapter.js';
import { postgresUnavailable } from './postgres-probe.js';

const SIGNIN_SECONDS = 5;
const SIGNIN_CONCURRENCY = 4;
const LATENCY_SECONDS = 3;
const AUTHENTICATE_CALLS = 200_000;
const ARGON2_VERIFIES = 50;
const PASSWORD = 'correct horse battery staple 2024';
const postgresUrl = process.env.PARLEY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A real server in-process on port 0, and an HTTPS client that trusts its self-signed certificate. */
interface BenchServer {
  app: App;
  url: string;
  dispatcher: Agent;
  close(): Promise<void>;
}

/** The server logs at `silent`, but createApp still wants somewhere to write. */
const discard = new Writable({
  write(_chunk, _encoding, callback) {
    callback();
  },
});

async function startServer(dialect: DialectName): Promise<BenchServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-identity-bench-'));
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const app = await createApp(
    loadConfig({
      PARLEY_HOST: '127.0.0.1',
      PARLEY_PORT: '0',
      PARLEY_LOG_LEVEL: 'silent',
      PARLEY_DATA_DIR: dataDir,
      ...(dialect === 'postgres' ? { DATABASE_URL: postgresUrl, PARLEY_DATABASE_SCHEMA: schema } : {}),
    }),
    { logDestination: discard },
  );
  const url = (await app.listen()).replace('localhost', '127.0.0.1');
  if (!app.tls) throw new Error('the bench expects the server to terminate TLS itself');
  const dispatcher = new Agent({ connect: { ca: readFileSync(app.tls.certFile), servername: 'localhost' } });
  return {
    app,
    url,
    dispatcher,
    async close() {
      await app.shutdown();
      await dispatcher.close();
      if (dialect === 'postgres') await dropSchema(schema);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

/** Sends one request and reads the whole body; throws unless the status is the expected one. */
async function send(
  server: BenchServer,
  path: string,
  init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
  expected: number,
): Promise<string> {
  const response = await request(`${server.url}${path}`, {
    dispatcher: server.dispatcher,
    method: init.method ?? 'GET',
    headers: init.headers ?? {},
    body: init.body ?? null,
  });
  const text = await response.body.text();
  if (response.statusCode !== expected) {
    throw new Error(`${init.method ?? 'GET'} ${path}: expected ${expected}, got ${response.statusCode}`);
  }
  return text;
}

/** A fresh tenant whose owner is created over the real setup endpoint, as an operator would. */
async function claimTenant(server: BenchServer): Promise<{ tenantId: string; email: string }> {
  const tenant = await server.app.tenants.createTenant('Bench Tenant');
  const email = `owner-${tenant.tenantId.slice(-6)}@bench.example`;
  await send(
    server,
    `/v1/tenants/${tenant.tenantId}/setup`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        setupToken: tenant.ownerSetupToken,
        displayName: 'Bench Owner',
        email,
        password: PASSWORD,
        // A new tenant's one required purpose (docs/privacy.md): the owner accepts it at setup.
        acceptedPurposes: [{ key: 'service', version: 1 }],
      }),
    },
    201,
  );
  return { tenantId: tenant.tenantId, email };
}

function signInRequest(tenantId: string, email: string) {
  return {
    method: 'POST' as const,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      tenant_id: tenantId,
      username: email,
      password: PASSWORD,
      scope: 'profile',
    }).toString(),
  };
}

interface LoadResult {
  perSecond: number;
  /** Per-operation latencies in milliseconds, sorted ascending. */
  latenciesMs: number[];
}

/** Runs `operation` from `concurrency` loops for about `seconds`, recording each operation's latency. */
async function load(seconds: number, concurrency: number, operation: () => Promise<unknown>) {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(seconds * 1e9);
  const latenciesMs: number[] = [];
  const worker = async (): Promise<void> => {
    while (process.hrtime.bigint() < deadline) {
      const began = process.hrtime.bigint();
      await operation();
      latenciesMs.push(Number(process.hrtime.bigint() - began) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  latenciesMs.sort((a, b) => a - b);
  return { perSecond: latenciesMs.length / elapsed, latenciesMs } satisfies LoadResult;
}

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** `sessions.authenticate` with a warm cache, timed call by call; microseconds. */
async function authenticateCost(app: App, token: string): Promise<{ medianUs: number; p99Us: number }> {
  const check = async (): Promise<void> => {
    const result = await app.services.sessions.authenticate(token);
    if (typeof result === 'string') throw new Error(`authenticate refused the bench token: ${result}`);
  };
  for (let warm = 0; warm < 10_000; warm += 1) await check();
  const micros = new Float64Array(AUTHENTICATE_CALLS);
  for (let call = 0; call < AUTHENTICATE_CALLS; call += 1) {
    const began = process.hrtime.bigint();
    await check();
    micros[call] = Number(process.hrtime.bigint() - began) / 1e3;
  }
  micros.sort();
  const sorted = Array.from(micros);
  return { medianUs: percentile(sorted, 50), p99Us: percentile(sorted, 99) };
}

/** One argon2id verify at the server's default (OWASP minimum) parameters, one at a time; ms. */
async function argon2VerifyMedian(): Promise<number> {
  const hasher = new PasswordHasher();
  const hash = await hasher.hash(PASSWORD);
  for (let warm = 0; warm < 3; warm += 1) await hasher.verify(hash, PASSWORD);
  const millis: number[] = [];
  for (let verify = 0; verify < ARGON2_VERIFIES; verify += 1) {
    const began = process.hrtime.bigint();
    if (!(await hasher.verify(hash, PASSWORD))) throw new Error('argon2 verify failed on its own hash');
    millis.push(Number(process.hrtime.bigint() - began) / 1e6);
  }
  millis.sort((a, b) => a - b);
  return percentile(millis, 50);
}

async function benchDialect(dialect: DialectName): Promise<Record<string, number>> {
  const server = await startServer(dialect);
  try {
    const { tenantId, email } = await claimTenant(server);
    const signIn = async (): Promise<string> =>
      send(server, '/oauth/token', signInRequest(tenantId, email), 200);
    for (let warm = 0; warm < 4; warm += 1) await signIn();
    const signins = await load(SIGNIN_SECONDS, SIGNIN_CONCURRENCY, signIn);

    const { access_token: token } = JSON.parse(await signIn()) as { access_token: string };
    const authenticate = await authenticateCost(server.app, token);

    const livez = () => send(server, '/livez', {}, 200);
    const me = () => send(server, '/v1/me', { headers: { authorization: `Bearer ${token}` } }, 200);
    for (let warm = 0; warm < 200; warm += 1) await Promise.all([livez(), me()]);
    const livezLoad = await load(LATENCY_SECONDS, 1, livez);
    const meLoad = await load(LATENCY_SECONDS, 1, me);
    const livezMedian = percentile(livezLoad.latenciesMs, 50);
    const meMedian = percentile(meLoad.latenciesMs, 50);
    return {
      [`${dialect}SigninsPerSecond`]: round(signins.perSecond, 1),
      [`${dialect}SigninP50Ms`]: round(percentile(signins.latenciesMs, 50), 1),
      [`${dialect}SigninP99Ms`]: round(percentile(signins.latenciesMs, 99), 1),
      [`${dialect}AuthenticateMedianUs`]: round(authenticate.medianUs, 2),
      [`${dialect}AuthenticateP99Us`]: round(authenticate.p99Us, 2),
      [`${dialect}LivezMedianMs`]: round(livezMedian, 3),
      [`${dialect}MeMedianMs`]: round(meMedian, 3),
      [`${dialect}MeOverLivezMs`]: round(meMedian - livezMedian, 3),
    };
  } finally {
    await server.close();
  }
}

/** The URL without its password, fit to print. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * Identity figures: the median of one argon2id verify on its own (what bounds sign-ins), then, on SQLite and (when reachable: `PARLEY_BENCH_DATABASE_URL`, default the local test
 * database, in a throw-away schema) PostgreSQL, against a real server in-process over HTTPS on 127.0.0.1:
 * - sign-ins per second with 4 concurrent `grant_type=password` requests for 5 s, and their p50/p99 latency;
 * - `sessions.authenticate(token)` called directly with a warm cache, median and p99 over 200 000 calls;
 * - median latency of `GET /livez` (no auth) and `GET /v1/me` (bearer token), one request at a time over
 *   keep-alive, 3 s each, and their difference (token check plus the profile read and presentation).
 */
export async function runIdentityBench(): Promise<Record<string, number>> {
  const results: Record<string, number> = { argon2VerifyMedianMs: round(await argon2VerifyMedian(), 1) };
  Object.assign(results, await benchDialect('sqlite'));
  const unavailable = await postgresUnavailable(postgresUrl);
  if (unavailable === undefined) Object.assign(results, await benchDialect('postgres'));
  else console.log(`identity: skipping PostgreSQL (${redacted(postgresUrl)} unreachable: ${unavailable})`);
  return results;
}
