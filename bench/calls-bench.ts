import { acceptOwedConsents, requiredPurposes } from './bench-consent.js';
import { Http } from './realtime-bench.js';
import { closeAll, LeanSocket, mapLimited } from './realtime-client.js';
import { percentile } from './realtime-load.js';
import { runOnStorages } from './storage-runs.js';
import { type BenchStorage, cpuPercent, type ProcessSample, ServerProcess } from './server-process.js';

const env = process.env;
const numberFrom = (name: string, fallback: number): number => {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
  return value;
};

/** Every knob, from the environment (see docs/performance.md, "Call signaling"). */
const options = {
  postgresUrl: env.PARLEY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: env.PARLEY_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  storages: (env.PARLEY_BENCH_CALL_STORAGES ?? 'sqlite,postgres+redis').split(','),
  calls: numberFrom('PARLEY_BENCH_CALLS', 1000),
  rounds: numberFrom('PARLEY_BENCH_CALL_ROUNDS', 2),
  userConcurrency: numberFrom('PARLEY_BENCH_USER_CONCURRENCY', 8),
  timeoutSeconds: numberFrom('PARLEY_BENCH_CALL_TIMEOUT_SECONDS', 120),
  cpuProfileDir: env.PARLEY_BENCH_CPU_PROFILE_DIR,
};

/** No server limit is raised: each user starts one call per round (the limit is 20 per minute). */
const serverEnv = {};

const PASSWORD = 'correct horse battery staple 2024';
const CONNECT_CONCURRENCY = 64;
const SDP_OFFER = `v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n${'a=bench offer\r\n'.repeat(60)}`;
const SDP_ANSWER = `v=0\r\no=- 1311731400430051337 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n${'a=bench answer\r\n'.repeat(60)}`;

interface BenchUser {
  userId: string;
  token: string;
}

/** The call frames the bench reads (the lean client's `ServerFrame` does not list them). */
type CallFrame =
  | { type: 'call.created'; id: string; callId: string }
  | { type: 'call.ack'; id: string; callId: string }
  | { type: 'call.incoming'; callId: string; callerId: string }
  | {
      type: 'call.state';
      callId: string;
      state: 'ringing' | 'active';
      participants: { userId: string; state: string; deviceId: string | null }[];
    }
  | { type: 'call.signal'; callId: string; fromDeviceId: string; signal: { type: string } }
  | { type: 'call.ended'; callId: string; outcome: string }
  | { type: 'error'; id?: string; code: string; message: string };

/** One call between a caller and a callee, each with one socket; times from `performance.now()`. */
interface Call {
  caller: LeanSocket;
  callee: LeanSocket;
  calleeId: string;
  callId: string;
  startSent: number;
  created: number;
  incoming: number;
  acceptSent: number;
  active: number;
  offerSent: number;
  offerRelayed: number;
  answerSent: number;
  answerRelayed: number;
  hangupSent: number;
  hangupAcked: number;
  ended: number;
}

/**
 * A tenant created with the CLI and claimed over the setup endpoint, then `count` members created by the
 * owner over `POST /v1/users` and signed in with a password (scopes `profile chat calls`): one argon2id hash
 * and one verify per user, which is what the set-up costs.
 */
async function createUsers(server: ServerProcess, http: Http, count: number): Promise<BenchUser[]> {
  const tenant = await server.createTenant('Call Bench');
  const ownerEmail = 'owner@calls.bench.example';
  await http.call(`/v1/tenants/${tenant.tenantId}/setup`, {
    json: {
      setupToken: tenant.ownerSetupToken,
      displayName: 'Bench Owner',
      email: ownerEmail,
      password: PASSWORD,
      acceptedPurposes: await requiredPurposes(http, tenant.tenantId),
    },
  });
  const signIn = async (email: string, scope: string) => {
    const tokens = await http.call<{ access_token: string; parley_notice?: string }>('/oauth/token', {
      form: {
        grant_type: 'password',
        tenant_id: tenant.tenantId,
        username: email,
        password: PASSWORD,
        scope,
      },
    });
    // Members made by the owner accept the required purposes at their first sign-in, as a client would.
    if (tokens.parley_notice === 'consent_required') await acceptOwedConsents(http, tokens.access_token);
    return tokens.access_token;
  };
  const ownerToken = await signIn(ownerEmail, 'profile chat admin');
  return mapLimited(
    Array.from({ length: count }, (_, index) => index),
    options.userConcurrency,
    async (index) => {
      // Letters none of which is in the password, so the personal-info rule never refuses it ("Caller 202").
      const tag = String(index).replace(/\d/g, (digit) => 'dfgijkmnqu'.charAt(Number(digit)));
      const email = `caller-${tag}@calls.bench.example`;
      const { userId } = await http.call<{ userId: string }>('/v1/users', {
        token: ownerToken,
        json: { displayName: `Caller ${tag}`, email, password: PASSWORD, roles: ['member'] },
      });
      return { userId, token: await signIn(email, 'profile chat calls') };
    },
  );
}

const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;
const MiB = 1024 * 1024;

/**
 * Every call started in the same tick; each step answered the moment its frame arrives: the callee accepts on
 * `call.incoming`, the caller sends an SDP offer to the callee's device on `call.state` active, the callee
 * answers on the relayed offer. Resolves when every answer is back at its caller (or at the timeout), then
 * hangs every call up and waits for the acks and the callees' `call.ended`.
 */
async function burst(
  server: ServerProcess,
  pairs: readonly { caller: LeanSocket; callee: LeanSocket; calleeId: string }[],
  roundIndex: number,
) {
  const errorCodes: Record<string, number> = {};
  let unexpectedCloses = 0;
  let setUp = 0;
  let hungUp = 0;
  let hangupAcks = 0;
  let peakRss = 0;
  let onSetUp: () => void = () => undefined;
  let onHungUp: () => void = () => undefined;
  const byCallId = new Map<string, Call>();
  const calls: Call[] = pairs.map((pair) => ({
    ...pair,
    callId: '',
    startSent: NaN,
    created: NaN,
    incoming: NaN,
    acceptSent: NaN,
    active: NaN,
    offerSent: NaN,
    offerRelayed: NaN,
    answerSent: NaN,
    answerRelayed: NaN,
    hangupSent: NaN,
    hangupAcked: NaN,
    ended: NaN,
  }));
  const error = (frame: { code: string }) => {
    errorCodes[frame.code] = (errorCodes[frame.code] ?? 0) + 1;
  };
  const closed = (code: number) => {
    unexpectedCloses += 1;
    errorCodes[`close ${code}`] = (errorCodes[`close ${code}`] ?? 0) + 1;
  };
  const requestId = (index: number, step: string) => `r${roundIndex}-${index}-${step}`;

  calls.forEach((call, index) => {
    call.caller.ws.on('close', closed);
    call.callee.ws.on('close', closed);
    call.caller.onFrame = (raw, at) => {
      const frame = raw as unknown as CallFrame;
      if (frame.type === 'call.created' && frame.id === requestId(index, 'start')) {
        call.created = at;
        call.callId = frame.callId;
        byCallId.set(frame.callId, call);
      } else if (frame.type === 'call.state' && frame.state === 'active' && Number.isNaN(call.active)) {
        call.active = at;
        const device = frame.participants.find((entry) => entry.userId === call.calleeId)?.deviceId;
        if (device === null || device === undefined) return;
        call.offerSent = performance.now();
        call.caller.send({
          type: 'call.signal',
          callId: frame.callId,
          toDeviceId: device,
          signal: { type: 'offer', sdp: SDP_OFFER },
        });
      } else if (frame.type === 'call.signal' && frame.signal.type === 'answer') {
        call.answerRelayed = at;
        setUp += 1;
        if (setUp === calls.length) onSetUp();
      } else if (frame.type === 'call.ack' && frame.id === requestId(index, 'hangup')) {
        call.hangupAcked = at;
        hangupAcks += 1;
        if (hungUp === calls.length && hangupAcks === calls.length) onHungUp();
      } else if (frame.type === 'error') error(frame);
    };
    call.callee.onFrame = (raw, at) => {
      const frame = raw as unknown as CallFrame;
      if (frame.type === 'call.incoming' && Number.isNaN(call.incoming)) {
        call.incoming = at;
        call.acceptSent = performance.now();
        call.callee.send({ type: 'call.accept', id: requestId(index, 'accept'), callId: frame.callId });
      } else if (frame.type === 'call.signal' && frame.signal.type === 'offer') {
        call.offerRelayed = at;
        call.answerSent = performance.now();
        call.callee.send({
          type: 'call.signal',
          callId: frame.callId,
          toDeviceId: frame.fromDeviceId,
          signal: { type: 'answer', sdp: SDP_ANSWER },
        });
      } else if (frame.type === 'call.ended') {
        call.ended = at;
        hungUp += 1;
        // The caller's ack leaves after the callee's `call.ended` was published: wait for both.
        if (hungUp === calls.length && hangupAcks === calls.length) onHungUp();
      } else if (frame.type === 'error') error(frame);
    };
  });

  const waitFor = (phase: 'set-up' | 'hang-up') =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        console.log(`calls: round ${roundIndex}: ${phase} timed out after ${options.timeoutSeconds} s`);
        resolve();
      }, options.timeoutSeconds * 1000);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      if (phase === 'set-up') onSetUp = done;
      else onHungUp = done;
    });
  const rssWatch = setInterval(() => {
    void server.sample().then((sample) => {
      peakRss = Math.max(peakRss, sample.rssBytes);
    });
  }, 100);

  const setUpDone = waitFor('set-up');
  const before: ProcessSample = await server.sample();
  const started = performance.now();
  calls.forEach((call, index) => {
    call.startSent = performance.now();
    call.caller.send({
      type: 'call.start',
      id: requestId(index, 'start'),
      to: { userId: call.calleeId },
      media: 'video',
    });
  });
  await setUpDone;
  const setUpEnded = performance.now();
  const afterSetUp = await server.sample();

  const hangUpDone = waitFor('hang-up');
  const hangUpStarted = performance.now();
  calls.forEach((call, index) => {
    if (call.callId === '') return;
    call.hangupSent = performance.now();
    call.caller.send({ type: 'call.hangup', id: requestId(index, 'hangup'), callId: call.callId });
  });
  await hangUpDone;
  const hangUpEnded = performance.now();
  const afterHangUp = await server.sample();
  clearInterval(rssWatch);
  for (const call of calls) {
    call.caller.ws.off('close', closed);
    call.callee.ws.off('close', closed);
  }

  const spans = (from: keyof Call, to: keyof Call) =>
    Float64Array.from(
      calls.map((call) => (call[to] as number) - (call[from] as number)).filter((ms) => Number.isFinite(ms)),
    ).sort();
  return {
    errorCodes,
    figures: {
      setUpSeconds: (setUpEnded - started) / 1000,
      callsSetUp: setUp,
      setUpPerSecond: setUp / ((setUpEnded - started) / 1000),
      serverCpuPercent: cpuPercent(before, afterSetUp),
      serverRssBytes: peakRss,
      hangUpSeconds: (hangUpEnded - hangUpStarted) / 1000,
      hangUpServerCpuPercent: cpuPercent(afterSetUp, afterHangUp),
      callsEnded: hungUp,
      hangupAcks,
      unexpectedCloses,
      errorFrames: Object.entries(errorCodes)
        .filter(([code]) => !code.startsWith('close '))
        .reduce((sum, [, n]) => sum + n, 0),
    },
    latencies: {
      StartToCreated: spans('startSent', 'created'),
      StartToIncoming: spans('startSent', 'incoming'),
      AcceptToActive: spans('acceptSent', 'active'),
      OfferRelay: spans('offerSent', 'offerRelayed'),
      AnswerRelay: spans('answerSent', 'answerRelayed'),
      SetUp: spans('startSent', 'answerRelayed'),
      HangupToAck: spans('hangupSent', 'hangupAcked'),
      HangupToEnded: spans('hangupSent', 'ended'),
    },
  };
}

async function benchStorage(storage: BenchStorage): Promise<Record<string, number>> {
  const server = await ServerProcess.start({ storage, ...options, env: serverEnv });
  const http = new Http(server);
  const prefix = storage === 'sqlite' ? 'sqlite' : 'postgres';
  const figures: Record<string, number> = {};
  const sockets: LeanSocket[] = [];
  try {
    const usersStarted = performance.now();
    const usersBefore = await server.sample();
    const users = await createUsers(server, http, options.calls * 2);
    const usersAfter = await server.sample();
    const usersSeconds = (performance.now() - usersStarted) / 1000;
    // One private dialog per pair: a 1:1 call needs one the two share.
    const dialogsStarted = performance.now();
    await mapLimited(
      Array.from({ length: options.calls }, (_, pair) => pair),
      options.userConcurrency,
      async (pair) =>
        http.call('/v1/dialogs', {
          token: users[pair * 2]?.token ?? '',
          json: { type: 'private', memberIds: [users[pair * 2 + 1]?.userId] },
        }),
    );
    const dialogsSeconds = (performance.now() - dialogsStarted) / 1000;
    const connectStarted = performance.now();
    sockets.push(
      ...(await mapLimited(users, CONNECT_CONCURRENCY, (user) =>
        LeanSocket.connect(server.url, server.ca, user.token),
      )),
    );
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    console.log(
      `calls: ${storage}: ${users.length} users created and signed in in ${usersSeconds.toFixed(1)} s ` +
        `(server CPU ${(((usersAfter.cpuSeconds - usersBefore.cpuSeconds) * 1000) / users.length).toFixed(1)} ms ` +
        `per user, argon2id hash and verify included), ${options.calls} dialogs in ` +
        `${dialogsSeconds.toFixed(1)} s, ${sockets.length} sockets in ${connectSeconds.toFixed(1)} s`,
    );
    Object.assign(figures, {
      [`${prefix}UsersCreatedPerSecond`]: round(users.length / usersSeconds, 1),
      [`${prefix}DialogsCreatedPerSecond`]: round(options.calls / dialogsSeconds, 0),
    });
    const pairs = Array.from({ length: options.calls }, (_, pair) => ({
      caller: sockets[pair * 2] as LeanSocket,
      callee: sockets[pair * 2 + 1] as LeanSocket,
      calleeId: users[pair * 2 + 1]?.userId ?? '',
    }));
    for (let roundIndex = 1; roundIndex <= options.rounds; roundIndex += 1) {
      const result = await burst(server, pairs, roundIndex);
      const name = `${prefix}R${roundIndex}`;
      if (Object.keys(result.errorCodes).length > 0)
        console.log(`calls: ${name}: errors and closes ${JSON.stringify(result.errorCodes)}`);
      const { figures: f } = result;
      Object.assign(figures, {
        [`${name}CallsSetUp`]: f.callsSetUp,
        [`${name}SetUpWallMs`]: round(f.setUpSeconds * 1000, 0),
        [`${name}SetUpsPerSecond`]: round(f.setUpPerSecond, 0),
      });
      for (const [step, sorted] of Object.entries(result.latencies))
        Object.assign(figures, {
          [`${name}${step}P50Ms`]: round(percentile(sorted, 50), 1),
          [`${name}${step}P95Ms`]: round(percentile(sorted, 95), 1),
          [`${name}${step}P99Ms`]: round(percentile(sorted, 99), 1),
        });
      Object.assign(figures, {
        [`${name}ServerCpuPercent`]: round(f.serverCpuPercent, 0),
        [`${name}ServerPeakRssMiB`]: round(f.serverRssBytes / MiB, 0),
        [`${name}HangUpWallMs`]: round(f.hangUpSeconds * 1000, 0),
        [`${name}HangUpServerCpuPercent`]: round(f.hangUpServerCpuPercent, 0),
        [`${name}CallsEnded`]: f.callsEnded,
        [`${name}HangupAcks`]: f.hangupAcks,
        [`${name}ErrorFrames`]: f.errorFrames,
        [`${name}UnexpectedCloses`]: f.unexpectedCloses,
      });
    }
  } catch (error) {
    console.error(`calls: ${storage} failed; the server's last output:\n${server.output.slice(-4000)}`);
    throw error;
  } finally {
    await closeAll(sockets);
    await http.close();
    await server.stop();
  }
  return figures;
}

/**
 * Call signaling against the real server as a child process (`parley start`): `PARLEY_BENCH_CALLS` pairs of
 * users (2 × N users, each pair sharing a private dialog, one socket each) start every call at once, and each
 * step of the set-up is timed per call — start → the callee's `call.incoming`, accept → the caller's
 * `call.state` active, the SDP offer and answer relayed device to device, and the whole set-up (start →
 * answer back at the caller); then every call is hung up. `PARLEY_BENCH_CALL_ROUNDS` bursts on the same
 * sockets: round 1 on a cold server, later rounds warm. On SQLite, and on PostgreSQL + Redis when reachable.
 */
export async function runCallsBench(): Promise<Record<string, number>> {
  console.log(
    `calls: no server limit raised; options ${JSON.stringify({ ...options, postgresUrl: undefined, redisUrl: undefined })}`,
  );
  return runOnStorages(
    'calls',
    'PARLEY_BENCH_CALL_STORAGES',
    options.storages,
    options.postgresUrl,
    benchStorage,
  );
}
