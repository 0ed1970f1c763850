import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AppError } from '../../src/app-error.ts';
import { newId } from '../../src/ids.ts';
import type { Storage } from '../../src/storage/database.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { json, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { Socket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Group commit: concurrent sends of a tenant share one transaction. These tests call the message service the
 * way the REST route and the realtime frame handler do, firing sends together, and count the transactions
 * that committed by wrapping the storage's `withTenant` (the real database underneath).
 */

interface Sent {
  message: { id: string; seq: number; clientId: string; body: string | null };
  duplicate: boolean;
}

/** Counts tenant transactions started and committed, until `restore`. */
function countTransactions(storage: Storage) {
  const withTenant = storage.withTenant.bind(storage);
  const counts = { started: 0, committed: 0 };
  storage.withTenant = async (tenantId, work) => {
    counts.started += 1;
    const result = await withTenant(tenantId, work);
    counts.committed += 1;
    return result;
  };
  return {
    counts,
    restore() {
      storage.withTenant = withTenant;
    },
  };
}

/** Settles every promise; the fulfilled values and the rejections, by position. */
async function settle<T>(promises: Promise<T>[]) {
  return (await Promise.allSettled(promises)).map((result) =>
    result.status === 'fulfilled' ? { value: result.value } : { error: result.reason as unknown },
  );
}

describeEachDialect('group commit of message sends', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  const userIds: string[] = [];
  let outsider: string;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Batch Clinic');
    const user = async (name: string) => {
      const created = await server.request(
        '/v1/users',
        json(
          {
            displayName: name,
            email: `${name}@batch.example`,
            password: 'many sends share one flush',
            roles: ['member'],
          },
          owner.accessToken,
        ),
      );
      expect(created.status, created.text).toBe(201);
      return created.json<{ userId: string }>().userId;
    };
    for (const name of ['ann', 'ben', 'cal', 'dee', 'eve']) userIds.push(await user(name));
    outsider = await user('olaf');
  });

  afterAll(async () => {
    await server.close();
  });

  const senders = () => [owner.userId, ...userIds];

  const group = async (memberIds = userIds) => {
    const created = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Ward', memberIds }, owner.accessToken),
    );
    expect(created.status, created.text).toBe(201);
    return created.json<{ id: string }>().id;
  };

  const send = (
    senderId: string,
    dialogId: string,
    clientId: string,
    body: string,
    extra: { attachments?: string[] } = {},
  ) =>
    server.app.services.messages.send(owner.tenantId, senderId, dialogId, {
      clientId,
      body,
      mentions: [],
      attachments: extra.attachments ?? [],
    }) as Promise<Sent>;

  /** What the dialog holds, oldest first: [seq, clientId, body]. */
  const stored = async (dialogId: string) => {
    const page = await server.app.services.messages.history(owner.tenantId, owner.userId, dialogId, {
      limit: 1000,
    });
    return page.messages.map((message) => [message.seq, message.clientId, message.body]);
  };

  it('commits 300 concurrent sends to 4 dialogs in 2 transactions (at most 256 sends each), seqs gap-free in each sender’s order', async () => {
    const dialogs = [await group(), await group(), await group(), await group()];
    const transactions = countTransactions(server.app.storage);
    const sends: { senderId: string; dialogId: string; clientId: string; sent: Promise<Sent> }[] = [];
    try {
      for (let index = 0; index < 300; index += 1) {
        const senderId = senders()[index % 6] ?? '';
        const dialogId = dialogs[index % 4] ?? '';
        const clientId = `burst-${index}`;
        sends.push({
          senderId,
          dialogId,
          clientId,
          sent: send(senderId, dialogId, clientId, `message ${index}`),
        });
      }
      await Promise.all(sends.map((entry) => entry.sent));
    } finally {
      transactions.restore();
    }
    // Without group commit this would be 300 transactions, each with its own flush.
    expect(transactions.counts).toEqual({ started: 2, committed: 2 });

    for (const dialogId of dialogs) {
      const mine = sends.filter((entry) => entry.dialogId === dialogId);
      const seqs = await Promise.all(mine.map(async (entry) => (await entry.sent).message.seq));
      expect([...seqs].sort((a, b) => a - b)).toEqual(mine.map((_, position) => position + 1));
      // Each sender's messages take seqs in the order the sender sent them.
      for (const senderId of senders()) {
        const theirs = seqs.filter((_, position) => mine[position]?.senderId === senderId);
        expect(theirs).toEqual([...theirs].sort((a, b) => a - b));
      }
      const expected = await Promise.all(
        mine.map(async (entry) => {
          const { message } = await entry.sent;
          return [message.seq, entry.clientId, message.body];
        }),
      );
      expect(await stored(dialogId)).toEqual(expected.sort((a, b) => Number(a[0]) - Number(b[0])));
    }
  });

  it('a send refused in the middle of a batch rejects alone; its neighbours commit in the same transaction and no seq is lost', async () => {
    const dialogId = await group();
    const [ann = '', ben = '', cal = ''] = userIds;
    // A private dialog in which cal blocked ann: ann's sends there are refused, cal's open one is not.
    const opened = await server.request(
      '/v1/dialogs',
      json({ type: 'private', memberIds: [ann] }, owner.accessToken),
    );
    const privateId = opened.json<{ id: string }>().id;
    const blockedPair = await server.app.services.dialogs.create(owner.tenantId, ann, {
      type: 'private',
      memberIds: [cal],
      hideHistory: false,
    });
    await server.app.services.blocks.block(owner.tenantId, cal, ann);
    const transactions = countTransactions(server.app.storage);
    let results: Awaited<ReturnType<typeof settle<Sent>>>;
    try {
      results = await settle([
        send(ann, blockedPair.id, 'blocked', 'hello cal'),
        send(ann, privateId, 'private-1', 'hello owner'),
        send(ann, dialogId, 'm-1', 'one'),
        send(ben, dialogId, 'm-2', 'two'),
        send(ann, dialogId, 'too-large', 'x'.repeat(16_385)),
        send(ben, dialogId, 'm-3', 'three'),
        // Refused after its row was written (the attachment check runs after the insert): only its
        // savepoint rolls back.
        send(ann, dialogId, 'bad-attachment', 'see file', { attachments: [newId()] }),
        send(outsider, dialogId, 'not-member', 'let me in'),
        send(ann, dialogId, 'm-4', 'four'),
        send(ben, 'no-such-dialog', 'no-dialog', 'hello?'),
        send(ben, dialogId, 'm-5', 'five'),
      ]);
    } finally {
      transactions.restore();
    }
    expect(transactions.counts).toEqual({ started: 1, committed: 1 });
    const codes = results.map((result) => (result.error instanceof AppError ? result.error.code : 'ok'));
    expect(codes).toEqual([
      'blocked',
      'ok',
      'ok',
      'ok',
      'message_too_large',
      'ok',
      'not_found',
      'not_found',
      'ok',
      'not_found',
      'ok',
    ]);
    expect(results.flatMap((result) => (result.value ? [result.value.message.seq] : []))).toEqual([
      1, 1, 2, 3, 4, 5,
    ]);
    expect(await stored(privateId)).toEqual([[1, 'private-1', 'hello owner']]);
    expect(await stored(dialogId)).toEqual([
      [1, 'm-1', 'one'],
      [2, 'm-2', 'two'],
      [3, 'm-3', 'three'],
      [4, 'm-4', 'four'],
      [5, 'm-5', 'five'],
    ]);
    // Nothing of the refused sends stayed behind: their client ids are free, the next seq is 6.
    const retried = await send(ann, dialogId, 'bad-attachment', 'see file (attached later)');
    expect(retried).toMatchObject({ duplicate: false, message: { seq: 6 } });
  });

  it('one send that fails unexpectedly fails only its caller: the batch is retried send by send and nothing unacknowledged commits', async () => {
    const dialogId = await group();
    const [ann = '', ben = ''] = userIds;
    // The database itself refuses one row: a failure no check of the service foresees.
    const db = server.app.storage.kysely;
    if (dialect === 'sqlite') {
      await sql`create trigger refuse_poison before insert on messages when new.client_id = 'poison'
        begin select raise(abort, 'poisoned send'); end`.execute(db);
    } else {
      await sql`create function refuse_poison() returns trigger language plpgsql as $$
        begin
          if new.client_id = 'poison' then raise exception 'poisoned send'; end if;
          return new;
        end $$`.execute(db);
      await sql`create trigger refuse_poison before insert on messages
        for each row execute function refuse_poison()`.execute(db);
    }
    const transactions = countTransactions(server.app.storage);
    let results: Awaited<ReturnType<typeof settle<Sent>>>;
    try {
      results = await settle([
        send(ann, dialogId, 'before', 'before the poison'),
        send(ben, dialogId, 'poison', 'poisoned'),
        send(ann, dialogId, 'after', 'after the poison'),
      ]);
    } finally {
      transactions.restore();
      await sql`drop trigger refuse_poison ${sql.raw(dialect === 'sqlite' ? '' : 'on messages')}`.execute(db);
    }
    // The batch of three rolled back, then each send alone: two commits, one failure.
    expect(transactions.counts).toEqual({ started: 4, committed: 2 });
    expect(results[0]?.value?.message.seq).toBe(1);
    expect(results[1]?.error).toBeInstanceOf(Error);
    expect(results[1]?.error).not.toBeInstanceOf(AppError);
    expect(results[2]?.value?.message.seq).toBe(2);
    expect(await stored(dialogId)).toEqual([
      [1, 'before', 'before the poison'],
      [2, 'after', 'after the poison'],
    ]);
  });

  it('the same client id twice in one batch: the second answers the first’s message as a duplicate', async () => {
    const dialogId = await group();
    const [ann = ''] = userIds;
    const transactions = countTransactions(server.app.storage);
    let results: Awaited<ReturnType<typeof settle<Sent>>>;
    try {
      results = await settle([
        send(ann, dialogId, 'twice', 'first'),
        send(ann, dialogId, 'twice', 'first (retried)'),
        // A refused first attempt leaves nothing to be a duplicate of: the retry is a new message.
        send(ann, dialogId, 'refused-then-fine', 'y'.repeat(16_385)),
        send(ann, dialogId, 'refused-then-fine', 'shorter'),
      ]);
    } finally {
      transactions.restore();
    }
    expect(transactions.counts).toEqual({ started: 1, committed: 1 });
    const [first, second, refused, fine] = results;
    expect(first?.value).toMatchObject({ duplicate: false, message: { seq: 1, body: 'first' } });
    expect(second?.value).toMatchObject({ duplicate: true, message: { seq: 1, body: 'first' } });
    expect(second?.value?.message.id).toBe(first?.value?.message.id);
    expect(refused?.error).toBeInstanceOf(AppError);
    expect(fine?.value).toMatchObject({ duplicate: false, message: { seq: 2, body: 'shorter' } });
    expect(await stored(dialogId)).toEqual([
      [1, 'twice', 'first'],
      [2, 'refused-then-fine', 'shorter'],
    ]);
  });

  it('delivers every message of a batch live, in order, to a socket that has no position in the dialog yet', async () => {
    const dialogId = await group();
    const [ann = ''] = userIds;
    const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
    await once(ws, 'open');
    const socket = new Socket(ws);
    socket.send({ type: 'auth', token: owner.accessToken });
    await socket.next((frame) => frame.type === 'ready');
    const transactions = countTransactions(server.app.storage);
    try {
      await Promise.all(
        [1, 2, 3, 4, 5].map((index) => send(ann, dialogId, `live-${index}`, `live ${index}`)),
      );
    } finally {
      transactions.restore();
    }
    expect(transactions.counts.committed).toBe(1);
    await socket.next((frame) => frame.type === 'message.new' && frame.seq === 5);
    const delivered = socket.frames.filter(
      (frame) => frame.type === 'message.new' && frame.dialogId === dialogId,
    );
    expect(delivered.map((frame) => frame.seq)).toEqual([1, 2, 3, 4, 5]);
    ws.close();
  });

  it('keeps each sender’s arrival order in every dialog while sends keep arriving across many batches', async () => {
    const dialogs = [await group(), await group()];
    const sends: { senderId: string; dialogId: string; clientId: string; sent: Promise<Sent> }[] = [];
    // Each sender sends 20 messages to each dialog without waiting for acks, one round per event-loop turn,
    // so sends arrive while earlier batches are still running.
    for (let round = 0; round < 20; round += 1) {
      for (const senderId of senders()) {
        for (const dialogId of dialogs) {
          const clientId = `${senderId}-${dialogId}-${round}`;
          sends.push({
            senderId,
            dialogId,
            clientId,
            sent: send(senderId, dialogId, clientId, `round ${round}`),
          });
        }
      }
      await nextTurn();
    }
    const acked = await Promise.all(
      sends.map(async (entry) => ({ ...entry, seq: (await entry.sent).message.seq })),
    );
    for (const dialogId of dialogs) {
      const mine = acked.filter((entry) => entry.dialogId === dialogId);
      expect(mine.map((entry) => entry.seq).sort((a, b) => a - b)).toEqual(
        mine.map((_, position) => position + 1),
      );
      for (const senderId of senders()) {
        const theirs = mine.filter((entry) => entry.senderId === senderId).map((entry) => entry.seq);
        expect(theirs).toHaveLength(20);
        expect(theirs).toEqual([...theirs].sort((a, b) => a - b));
      }
      const byClientId = new Map(mine.map((entry) => [entry.clientId, entry.seq]));
      const rows = await stored(dialogId);
      expect(rows.map(([seq, clientId]) => [seq, byClientId.get(String(clientId))])).toEqual(
        rows.map(([seq]) => [seq, seq]),
      );
      expect(rows).toHaveLength(mine.length);
    }
  });
  // PostgreSQL commits transactions that lock different rows in parallel: a send batch locks its own dialogs
  // only, so a dialog held up (a long lock, a slow disk page) must not hold up the tenant's other dialogs.
  // SQLite has one writer: there batches run one after another by design.
  it.runIf(dialect === 'postgres')(
    'a dialog whose row is held by another transaction does not hold up sends to other dialogs',
    async () => {
      const [held, free] = [await group(), await group()];
      const [ann = ''] = userIds;
      const gate: { release?: () => void; locked?: () => void } = {};
      const released = new Promise<void>((resolve) => {
        gate.release = resolve;
      });
      const isLocked = new Promise<void>((resolve) => {
        gate.locked = resolve;
      });
      const holder = server.app.storage.kysely.transaction().execute(async (tx) => {
        await sql`select id from dialogs where id = ${held} for update`.execute(tx);
        gate.locked?.();
        await released;
      });
      await isLocked;
      let heldDone = false;
      const heldSend = send(ann, held, 'held-1', 'waits for the lock').then((sent) => {
        heldDone = true;
        return sent;
      });
      // The held send's batch is waiting for the row lock now; this one goes in a batch of its own.
      await nextTurn();
      await nextTurn();
      const freeSend = await send(ann, free, 'free-1', 'commits meanwhile');
      expect(freeSend.message.seq).toBe(1);
      expect(heldDone).toBe(false);
      gate.release?.();
      await holder;
      expect((await heldSend).message.seq).toBe(1);
      expect(await stored(held)).toEqual([[1, 'held-1', 'waits for the lock']]);
    },
  );
});
