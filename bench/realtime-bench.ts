import { once } from 'node:events';
import { Agent, request } from 'undici';
import { LeanSocket, mapLimited } from './realtime-client.js';
import { type LoadResult, percentile, runLoad, type Sender } from './realtime-load.js';
import { runOnStorages } from './storage-runs.js';
import { type BenchStorage, cpuPercent, ServerProcess } from './server-process.js';

const env = process.env;
const numberFrom = (name: string, fallback: number): number => {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
  return value;
};

/** Every knob, from the environment (see docs/performance.md). */
const options = {
  postgresUrl: env.PARLEY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: env.PARLEY_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  storages: (env.PARLEY_BENCH_REALTIME_STORAGES ?? 'sqlite,postgres+redis').split(','),
  scenarios: (env.PARLEY_BENCH_REALTIME_SCENARIOS ?? 'idle,pairs,group').split(','),
  warmupSeconds: numberFrom('PARLEY_BENCH_WARMUP_SECONDS', 2),
  windowSeconds: numberFrom('PARLEY_BENCH_WINDOW_SECONDS', 5),
  pairs: numberFrom('PARLEY_BENCH_PAIRS', 50),
  pairInFlight: numberFrom('PARLEY_BENCH_PAIR_IN_FLIGHT', 4),
  pairRate: numberFrom('PARLEY_BENCH_PAIR_RATE', 0),
  groupSize: numberFrom('PARLEY_BENCH_GROUP_SIZE', 100),
  groupSenders: numberFrom('PARLEY_BENCH_GROUP_SENDERS', 10),
  groupInFlight: numberFrom('PARLEY_BENCH_GROUP_IN_FLIGHT', 1),
  groupRate: numberFrom('PARLEY_BENCH_GROUP_RATE', 0),
  drainSeconds: numberFrom('PARLEY_BENCH_DRAIN_SECONDS', 10),
  idleConnections: numberFrom('PARLEY_BENCH_IDLE_CONNECTIONS', 10_000),
  idleUsers: numberFrom('PARLEY_BENCH_IDLE_USERS', 100),
  cpuProfileDir: env.PARLEY_BENCH_CPU_PROFILE_DIR,
};

/**
 * Limits raised for the run (printed): the default per-socket frame rate (50/s) would throttle a bench
 * sender long before the server is busy, and the node-wide connection cap (10,000) would refuse the idle
 * part. The per-address cap is raised for every bench in server-process.ts.
 */
const serverEnv = {
  PARLEY_REALTIME_FRAMES_PER_SECOND: '10000',
  PARLEY_SEND_RATE_PER_SECOND: '1000000',
  PARLEY_SEND_BURST: '1000000',
  // The idle-connection part holds PARLEY_BENCH_IDLE_CONNECTIONS (10,000) sockets beside the active ones.
  PARLEY_MAX_CONNECTIONS: '1000000',
};

const PASSWORD = 'correct horse battery staple 2024';
const CONNECT_CONCURRENCY = 64;

interface BenchUser {
  userId: string;
  token: string;
}

/** HTTPS to the server child, trusting its self-signed certificate. */
export class Http {
  readonly #dispatcher: Agent;
  constructor(private readonly server: ServerProcess) {
    this.#dispatcher = new Agent({ connect: { ca: server.ca, servername: 'localhost' } });
  }

  async call<T>(
    path: string,
    init: { method?: 'GET' | 'POST'; token?: string; json?: unknown; form?: Record<string, string> },
  ): Promise<T> {
    const headers: Record<string, string> = {};
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    let body: string | null = null;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const response = await request(`${this.server.url}${path}`, {
      dispatcher: this.#dispatcher,
      method: init.method ?? (body === null ? 'GET' : 'POST'),
      headers,
      body,
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`${path}: ${response.statusCode} ${text}`);
    return JSON.parse(text) as T;
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}

async function signIn(http: Http, tenantId: string, email: string): Promise<string> {
  const tokens = await http.call<{ access_token: string }>('/oauth/token', {
    form: {
      grant_type: 'password',
      tenant_id: tenantId,
      username: email,
      password: PASSWORD,
      scope: 'profile chat admin',
    },
  });
  return tokens.access_token;
}

/**
 * A tenant created with the CLI and claimed over the setup endpoint, then `count` members created by the
 * owner over `POST /v1/users` and signed in with a password: the honest path, bounded by argon2id (one hash
 * and one verify per user), which is why the idle scenario shares users between sockets.
 */
async function createUsers(server: ServerProcess, http: Http, count: number): Promise<BenchUser[]> {
  const tenant = await server.createTenant('Realtime Bench');
  const ownerEmail = 'owner@bench.example';
  await http.call(`/v1/tenants/${tenant.tenantId}/setup`, {
    json: {
      setupToken: tenant.ownerSetupToken,
      displayName: 'Bench Owner',
      email: ownerEmail,
      password: PASSWORD,
    },
  });
  const ownerToken = await signIn(http, tenant.tenantId, ownerEmail);
  return mapLimited(
    Array.from({ length: count }, (_, index) => index),
    4,
    async (index) => {
      const email = `member-${index}@bench.example`;
      const { userId } = await http.call<{ userId: string }>('/v1/users', {
        token: ownerToken,
        json: { displayName: `Member ${index}`, email, password: PASSWORD, roles: ['member'] },
      });
      return { userId, token: await signIn(http, tenant.tenantId, email) };
    },
  );
}

const connectAll = (server: ServerProcess, tokens: readonly string[]) =>
  mapLimited(tokens, CONNECT_CONCURRENCY, (token) => LeanSocket.connect(server.url, server.ca, token));

async function closeAll(sockets: readonly LeanSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(async (socket) => {
      if (socket.ws.readyState === socket.ws.CLOSED) return;
      const closed = once(socket.ws, 'close');
      socket.close();
      await closed;
    }),
  );
}

const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;
const MiB = 1024 * 1024;

function loadFigures(prefix: string, result: LoadResult): Record<string, number> {
  if (result.errors + result.closes > 0)
    console.log(`realtime: ${prefix}: errors and closes ${JSON.stringify(result.errorCodes)}`);
  return {
    [`${prefix}DeliveredPerSecond`]: round(result.deliveredPerSecond, 0),
    [`${prefix}AckedPerSecond`]: round(result.ackedPerSecond, 0),
    [`${prefix}P50Ms`]: round(percentile(result.latenciesMs, 50), 2),
    [`${prefix}P95Ms`]: round(percentile(result.latenciesMs, 95), 2),
    [`${prefix}P99Ms`]: round(percentile(result.latenciesMs, 99), 2),
    [`${prefix}ServerCpuPercent`]: round(result.serverCpuPercent, 0),
    [`${prefix}ServerRssMiB`]: round(result.serverRssBytes / MiB, 0),
    [`${prefix}Undelivered`]: result.undelivered,
    [`${prefix}ErrorFrames`]: result.errors,
    [`${prefix}UnexpectedCloses`]: result.closes,
  };
}

/**
 * With a fixed rate: one open-loop run at it. Otherwise a closed-loop run for the most the server sustains
 * (latency there is mostly the queue the closed loop builds), then an open-loop run at half that rate for
 * the latency a client sees when the server is busy but not saturated.
 */
async function measure(
  server: ServerProcess,
  prefix: string,
  senders: readonly Sender[],
  sockets: readonly LeanSocket[],
  load: { inFlight: number; rate: number },
): Promise<Record<string, number>> {
  if (load.rate > 0) {
    return {
      [`${prefix}RatePerSecond`]: load.rate,
      ...loadFigures(prefix, await runLoad(server, senders, sockets, { ...options, ...load })),
    };
  }
  const saturated = await runLoad(server, senders, sockets, { ...options, ...load });
  const half = Math.max(1, Math.round(saturated.ackedPerSecond / 2));
  const relaxed = await runLoad(server, senders, sockets, { ...options, ...load, rate: half });
  return {
    ...loadFigures(`${prefix}Max`, saturated),
    [`${prefix}HalfRatePerSecond`]: half,
    ...loadFigures(`${prefix}Half`, relaxed),
  };
}

/** Pairs of members in a private dialog, both sending; deliveries are the other member's `message.new`. */
async function pairsScenario(server: ServerProcess, http: Http, users: readonly BenchUser[], prefix: string) {
  const members = users.slice(0, options.pairs * 2);
  const sockets = await connectAll(
    server,
    members.map((user) => user.token),
  );
  const senders = [];
  for (let pair = 0; pair < options.pairs; pair += 1) {
    const [a, b] = [pair * 2, pair * 2 + 1];
    const { id: dialogId } = await http.call<{ id: string }>('/v1/dialogs', {
      token: members[a]?.token ?? '',
      json: { type: 'private', memberIds: [members[b]?.userId] },
    });
    senders.push(
      { socket: sockets[a] as LeanSocket, dialogId, recipients: 1 },
      { socket: sockets[b] as LeanSocket, dialogId, recipients: 1 },
    );
  }
  const figures = await measure(server, `${prefix}Pairs`, senders, sockets, {
    inFlight: options.pairInFlight,
    rate: options.pairRate,
  });
  await closeAll(sockets);
  return figures;
}

/** One group of `groupSize` members; `groupSenders` of them send, every other member receives each message. */
async function groupScenario(server: ServerProcess, http: Http, users: readonly BenchUser[], prefix: string) {
  const members = users.slice(0, options.groupSize);
  const [creator] = members;
  if (!creator) return {};
  const { id: dialogId } = await http.call<{ id: string }>('/v1/dialogs', {
    token: creator.token,
    json: { type: 'group', name: 'Bench Group', memberIds: members.slice(1).map((user) => user.userId) },
  });
  const sockets = await connectAll(
    server,
    members.map((user) => user.token),
  );
  const senders = sockets
    .slice(0, options.groupSenders)
    .map((socket) => ({ socket, dialogId, recipients: members.length - 1 }));
  const figures = await measure(server, `${prefix}Group`, senders, sockets, {
    inFlight: options.groupInFlight,
    rate: options.groupRate,
  });
  await closeAll(sockets);
  return figures;
}

/** Many authenticated sockets doing nothing: server memory per connection and idle CPU. */
async function idleScenario(server: ServerProcess, users: readonly BenchUser[], prefix: string) {
  const tokens = Array.from(
    { length: options.idleConnections },
    (_, index) => users[index % Math.min(options.idleUsers, users.length)]?.token ?? '',
  );
  const before = await server.sample();
  const connectStarted = performance.now();
  const sockets = await connectAll(server, tokens);
  const connectSeconds = (performance.now() - connectStarted) / 1000;
  const connected = await server.sample();
  // Let the server settle (handshake buffers released), then watch it idle.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const settled = await server.sample();
  await new Promise((resolve) => setTimeout(resolve, options.windowSeconds * 1000));
  const idle = await server.sample();
  const closes = sockets.filter((socket) => socket.ws.readyState !== socket.ws.OPEN).length;
  await closeAll(sockets);
  return {
    [`${prefix}IdleConnections`]: sockets.length - closes,
    [`${prefix}IdleConnectsPerSecond`]: round(sockets.length / connectSeconds, 0),
    // Server CPU per connection set up (TLS handshake, upgrade, auth frame, subscription).
    [`${prefix}IdleConnectServerCpuMs`]: round(
      ((connected.cpuSeconds - before.cpuSeconds) * 1000) / sockets.length,
      2,
    ),
    [`${prefix}IdleConnectServerCpuPercent`]: round(cpuPercent(before, connected)),
    [`${prefix}IdleRssBeforeMiB`]: round(before.rssBytes / MiB),
    [`${prefix}IdleRssMiB`]: round(settled.rssBytes / MiB),
    [`${prefix}IdlePerConnectionKiB`]: round((settled.rssBytes - before.rssBytes) / 1024 / sockets.length),
    [`${prefix}IdleServerCpuPercent`]: round(cpuPercent(settled, idle)),
  };
}

async function benchStorage(storage: BenchStorage): Promise<Record<string, number>> {
  const server = await ServerProcess.start({ storage, ...options, env: serverEnv });
  const http = new Http(server);
  const prefix = storage === 'sqlite' ? 'sqlite' : 'postgres';
  const figures: Record<string, number> = {};
  try {
    const userCount = Math.max(
      options.pairs * 2,
      options.groupSize,
      Math.min(options.idleUsers, options.idleConnections),
    );
    const users = await createUsers(server, http, userCount);
    // Idle first, on a server that has not yet grown its heap under load.
    if (options.scenarios.includes('idle')) Object.assign(figures, await idleScenario(server, users, prefix));
    if (options.scenarios.includes('pairs'))
      Object.assign(figures, await pairsScenario(server, http, users, prefix));
    if (options.scenarios.includes('group'))
      Object.assign(figures, await groupScenario(server, http, users, prefix));
  } catch (error) {
    console.error(`realtime: ${storage} failed; the server's last output:\n${server.output.slice(-4000)}`);
    throw error;
  } finally {
    await http.close();
    await server.stop();
  }
  return figures;
}

/**
 * Realtime figures against the real server as a child process (`parley start`), over WSS with a lean `ws`
 * client in this process: idle connections (memory per socket), 1:1 pairs, and one group — on SQLite, and
 * on PostgreSQL + Redis when reachable. Knobs: the `PARLEY_BENCH_*` variables in `options`.
 */
export async function runRealtimeBench(): Promise<Record<string, number>> {
  console.log(
    `realtime: server limits raised for the run: ${Object.entries(serverEnv)
      .map(([key, value]) => `${key}=${value}`)
      .join(', ')}; options ${JSON.stringify({ ...options, postgresUrl: undefined, redisUrl: undefined })}`,
  );
  return runOnStorages(
    'realtime',
    'PARLEY_BENCH_REALTIME_STORAGES',
    options.storages,
    options.postgresUrl,
    benchStorage,
  );
}
