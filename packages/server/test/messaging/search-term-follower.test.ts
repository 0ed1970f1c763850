import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { PostgresSearchIndex } from '../../src/messaging/search/postgres-search-index.ts';
import { SearchTermFollower } from '../../src/messaging/search/search-term-follower.ts';
import { SearchTokenHasher } from '../../src/messaging/search/search-token-hasher.ts';
import { describePostgres } from '../support/dialects.ts';
import { bearer, json, newMember, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Issue 11: on PostgreSQL a send writes its search entry and a pending row; the term rows (~67 a message, the
 * largest part of a send's database time) are written after the commit by the node's follower, or by the
 * tenant's next search. The promises: nothing acknowledged is ever missing from a search; the follower drains
 * what this node wrote and what a dead node left; a tenant's search or drain never touches another tenant's
 * entries; a follower never waits for another node's drain.
 */
describePostgres('search terms written after the send', () => {
  let server: TestServer;
  let owner: SignedIn;
  let other: SignedIn;
  let bob: { userId: string; token: string };

  beforeAll(async () => {
    server = await startTestServer({ dialect: 'postgres' });
    owner = await newTenantOwner(server, 'Follower Clinic');
    other = await newTenantOwner(server, 'Follower Other');
    bob = await newMember(server, owner, 'bob@follower.example');
  });

  afterAll(async () => {
    await server.close();
  });

  const db = () => server.app.storage.kysely;
  const group = async (token: string, memberIds: string[]) => {
    const response = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Ward', memberIds }, token),
    );
    expect(response.status, response.text).toBe(201);
    return response.json<{ id: string }>().id;
  };
  const send = async (token: string, dialogId: string, body: string) => {
    const response = await server.request(
      `/v1/dialogs/${dialogId}/messages`,
      json({ clientId: crypto.randomUUID(), body }, token),
    );
    expect(response.status, response.text).toBe(201);
    return response.json<{ id: string }>().id;
  };
  const found = async (token: string, q: string) => {
    const response = await server.request(`/v1/search/messages?q=${encodeURIComponent(q)}`, bearer(token));
    expect(response.status, response.text).toBe(200);
    return response.json<{ results: { message: { id: string } }[] }>().results.map((r) => r.message.id);
  };
  const count = async (table: 'message_search_terms' | 'message_search_pending', messageId: string) =>
    Number(
      (
        await db()
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .where('message_id', '=', messageId)
          .executeTakeFirstOrThrow()
      ).n,
    );
  /** As a node that committed the send and died before its follower ran: the terms gone, the entry pending. */
  const leavePending = async (tenantId: string, messageId: string) => {
    await sql`delete from message_search_terms where message_id = ${messageId}`.execute(db());
    await sql`insert into message_search_pending (tenant_id, message_id) values (${tenantId}, ${messageId})`.execute(
      db(),
    );
  };
  const follower = (options: { sweepMs: number }) =>
    new SearchTermFollower({
      storage: server.app.storage,
      index: new PostgresSearchIndex(new SearchTokenHasher(server.app.security.keyring), {
        terms: 'deferred',
      }),
      logger: pino({ level: 'silent' }),
      intervalMs: 20,
      ...options,
    });

  it("the node's follower writes a send's term rows shortly after it, without any search", async () => {
    const dialogId = await group(owner.accessToken, [bob.userId]);
    const messageId = await send(owner.accessToken, dialogId, 'the conversation');
    // Words: the, conversation; beginnings walked: the, con, conve, conversa.
    await vi.waitFor(
      async () => {
        expect(await count('message_search_terms', messageId)).toBe(2 + 4);
      },
      {
        timeout: 3000,
      },
    );
    expect(await count('message_search_pending', messageId)).toBe(0);
  });

  it('a follower finds and drains entries a dead node left pending, in a tenant it never wrote for', async () => {
    const dialogId = await group(other.accessToken, []);
    const messageId = await send(other.accessToken, dialogId, 'quarterly pangolin census');
    await vi.waitFor(async () => {
      expect(await count('message_search_pending', messageId)).toBe(0);
    });
    const terms = await count('message_search_terms', messageId);
    await leavePending(other.tenantId, messageId);
    const standby = follower({ sweepMs: 100 });
    standby.start();
    try {
      await vi.waitFor(
        async () => {
          expect(await count('message_search_pending', messageId)).toBe(0);
        },
        {
          timeout: 3000,
        },
      );
    } finally {
      await standby.close();
    }
    expect(await count('message_search_terms', messageId)).toBe(terms);
  });

  it("a search drains only its own tenant's pending entries (row-level security), and finds its own at once", async () => {
    const mine = await send(
      owner.accessToken,
      await group(owner.accessToken, [bob.userId]),
      'okapi sighting',
    );
    const theirs = await send(other.accessToken, await group(other.accessToken, []), 'okapi sighting');
    await vi.waitFor(async () => {
      expect(await count('message_search_pending', mine)).toBe(0);
      expect(await count('message_search_pending', theirs)).toBe(0);
    });
    const follower = server.app.services.searchTerms;
    if (!follower) throw new Error('the PostgreSQL server has no search term follower');
    // Stop the node's follower (for the rest of this file): only a search can drain now.
    await follower.close();
    await leavePending(owner.tenantId, mine);
    await leavePending(other.tenantId, theirs);
    expect(await found(bob.token, 'okapi')).toEqual([mine]);
    expect(await count('message_search_pending', mine)).toBe(0);
    expect(await count('message_search_pending', theirs)).toBe(1);
    expect(await count('message_search_terms', theirs)).toBe(0);
    // Asked by name for the other tenant's entries inside this tenant's transaction: row-level security
    // shows it none, so it drains none.
    const index = new PostgresSearchIndex(new SearchTokenHasher(server.app.security.keyring), {
      terms: 'deferred',
    });
    const drained = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      index.drainPending(tx, other.tenantId, { limit: 100, skipLocked: false }),
    );
    expect(drained).toBe(0);
    expect(await count('message_search_pending', theirs)).toBe(1);
    expect(await found(other.accessToken, 'okapi')).toEqual([theirs]);
  });

  it('a follower skips entries another node is draining, instead of waiting for it', async () => {
    const messageId = await send(
      owner.accessToken,
      await group(owner.accessToken, [bob.userId]),
      'tapir tracks',
    );
    // The node's follower is stopped (above): the search drains it, then we leave it pending again.
    expect(await found(bob.token, 'tapir')).toEqual([messageId]);
    await leavePending(owner.tenantId, messageId);
    const index = new PostgresSearchIndex(new SearchTokenHasher(server.app.security.keyring), {
      terms: 'deferred',
    });
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked: () => void = () => undefined;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    // Another node's drain, under way: it holds the pending row until it commits.
    const otherNode = server.app.storage.withTenant(owner.tenantId, async (tx) => {
      await sql`select 1 from message_search_pending where message_id = ${messageId} for update`.execute(tx);
      locked();
      await released;
    });
    await isLocked;
    const startedAt = Date.now();
    const drained = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      index.drainPending(tx, owner.tenantId, { limit: 100, skipLocked: true }),
    );
    expect(drained).toBe(0);
    expect(Date.now() - startedAt).toBeLessThan(1000);
    release();
    await otherNode;
    expect(await count('message_search_pending', messageId)).toBe(1);
    expect(await found(bob.token, 'tapir')).toEqual([messageId]);
  });
});
