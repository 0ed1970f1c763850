import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePostgres } from '../support/dialects.ts';
import { DialogStreamClient, seededRandom, type SeenChange } from '../support/dialog-stream-client.ts';
import { json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

const MEMBERS = 12;
const SENDERS = 4;
const SENDS_PER_SENDER = 25;
const IN_FLIGHT = 3;
const password = 'seven lanterns over a quiet harbour';

/** `PARLEY_SOAK_SEED=<n>` replays one schedule; otherwise a fresh seed, printed. */
const seed = Number(process.env.PARLEY_SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));

const pause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * Issue 5 §7a, the "nothing lost, nothing doubled" invariant under concurrent writers on PostgreSQL: several
 * members send into one group at once (each send a unique client id, a few in flight) while the other members
 * drop their sockets at random moments — politely or abruptly — and come back with a resume from the last
 * position they saw. Afterwards every member's stream, across all its connections, must be strictly
 * increasing, without a gap from its first position to the end, and equal to the history in the database.
 */
describePostgres('nothing lost, nothing doubled under concurrent senders and random reconnects', () => {
  let server: TestServer;
  let owner: SignedIn;
  let dialogId: string;
  const tokens: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      dialect: 'postgres',
      env: { PARLEY_REALTIME_FRAMES_PER_SECOND: '1000' },
    });
    owner = await newTenantOwner(server, 'Soak Test Clinic');
    const memberIds: string[] = [];
    for (let n = 1; n < MEMBERS; n += 1) {
      const email = `member-${n}@soak.example`;
      const created = await server.request(
        '/v1/users',
        json({ displayName: `Member ${n}`, email, password, roles: ['member'] }, owner.accessToken),
      );
      if (created.status !== 201) throw new Error(`creating a member failed: ${created.text}`);
      memberIds.push(created.json<{ userId: string }>().userId);
      tokens.push((await signIn(server, owner.tenantId, email, password, 'profile chat')).accessToken);
    }
    tokens.unshift(owner.accessToken);
    dialogId = (
      await server.request('/v1/dialogs', json({ type: 'group', name: 'Soak', memberIds }, owner.accessToken))
    ).json<{ id: string }>().id;
  });

  afterAll(async () => {
    await server.close();
  });

  /** The dialog's whole history as the owner reads it over REST, oldest first. */
  async function history(): Promise<SeenChange[]> {
    const all: SeenChange[] = [];
    for (let after = 0; ;) {
      const page = (
        await server.request(`/v1/dialogs/${dialogId}/messages?after=${after}&limit=200`, {
          headers: { authorization: `Bearer ${owner.accessToken}` },
        })
      ).json<{ messages: { seq: number; id: string; clientId: string | null; body: string | null }[] }>();
      for (const message of page.messages)
        all.push({ seq: message.seq, id: message.id, clientId: message.clientId, body: message.body });
      const last = page.messages.at(-1);
      if (!last) return all;
      after = last.seq;
    }
  }

  it('gives every member a gap-free, duplicate-free stream equal to the database', async () => {
    console.info(`no-loss soak: seed ${seed} (replay with PARLEY_SOAK_SEED=${seed})`);
    const random = seededRandom(seed);
    const clients = tokens.map((token) => new DialogStreamClient(server.url, server.ca, token, dialogId));
    // Everyone is connected (and has resumed from 0) before the first send, so every stream starts at seq 1.
    await Promise.all(clients.map((client) => client.connect()));
    const senders = clients.slice(0, SENDERS);
    const flappers = clients.slice(SENDERS);

    const acks = new Map<string, number>();
    const sending = senders.map(
      (client, index) =>
        new Promise<void>((resolve) => {
          let sent = 0;
          let acked = 0;
          const sendNext = () => {
            if (sent === SENDS_PER_SENDER) return;
            sent += 1;
            const id = `soak-${seed}-${index}-${sent}`;
            client.send({ type: 'message.send', id, dialogId, body: `from ${index}: ${sent}` });
          };
          client.onAck = (ack) => {
            acks.set(ack.id, ack.seq);
            acked += 1;
            if (acked === SENDS_PER_SENDER) resolve();
            sendNext();
          };
          for (let n = 0; n < IN_FLIGHT; n += 1) sendNext();
        }),
    );
    let done = false;
    const allSent = Promise.all(sending).then(() => {
      done = true;
    });
    // Each flapper: stay connected for a random while, drop the socket (close or terminate), come back
    // after a random pause with a resume from its last position; repeat until the senders are done.
    const flapping = flappers.map(async (client) => {
      while (!done) {
        await pause(20 + Math.floor(random() * 180));
        await client.disconnect(random() < 0.5);
        await pause(Math.floor(random() * 50));
        await client.connect();
      }
    });
    await allSent;
    await Promise.all(flapping);

    const expected = await history();
    const lastSeq = expected.at(-1)?.seq ?? 0;
    await Promise.all(clients.map((client) => client.reached(lastSeq)));
    for (const [index, client] of clients.entries()) {
      const who = `client ${index} (seed ${seed})`;
      const seqs = client.seen.map((change) => change.seq);
      for (let n = 1; n < seqs.length; n += 1)
        expect(seqs[n], `${who}: seq ${seqs[n]} after ${seqs[n - 1]}`).toBeGreaterThan(seqs[n - 1] ?? 0);
      expect(client.seen, `${who}: stream differs from the database`).toEqual(expected);
      expect(client.unexpected, who).toEqual([]);
    }
    // Nothing doubled, nothing lost on the sending side: each client id once, at the seq its ack named.
    expect(expected.map((change) => change.clientId).sort()).toEqual([...acks.keys()].sort());
    for (const change of expected) expect(acks.get(change.clientId ?? '')).toBe(change.seq);
    expect(expected.map((change) => change.seq)).toEqual(expected.map((_, index) => index + 1));
    // The schedule really did disconnect people mid-stream.
    expect(flappers.reduce((total, client) => total + client.connections - 1, 0)).toBeGreaterThan(
      flappers.length,
    );
  }, 60_000);
});
