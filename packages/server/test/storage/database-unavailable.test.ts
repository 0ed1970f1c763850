import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../../src/storage/database-unavailable.ts';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import { migrateToLatest } from '../../src/storage/migrator.ts';
import { createTestDatabase, describePostgres, type TestDatabase } from '../support/dialects.ts';
import { json, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { openSocket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { testStorageOptions } from '../support/test-storage.ts';

/** Holds one connection of the storage's pool until `release` is called (retrying while others hold it). */
async function holdConnection(storage: Storage): Promise<{ release(): Promise<void> }> {
  for (let attempt = 0; ; attempt += 1) {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held!: () => void;
    const acquired = new Promise<void>((resolve) => (held = resolve));
    const holding = storage.kysely.connection().execute(async () => {
      held();
      await gate;
    });
    const outcome = await Promise.race([
      acquired.then(() => 'held' as const),
      holding.then(
        () => 'ended' as const,
        (e: unknown) => e,
      ),
    ]);
    if (outcome === 'held')
      return {
        release: async () => {
          release();
          await holding;
        },
      };
    if (!(outcome instanceof DatabaseUnavailableError) || attempt >= 20) throw outcome;
  }
}

/**
 * Under overload every connection of the pool is busy; when the database is down none can be made. Either
 * way a request must be told to retry (503, `Retry-After`), not that the server failed (500), and it must
 * not wait for ever. Seen in the realtime bench: searches that held every connection made other requests
 * fail with 500.
 */
describePostgres('no database connection in time', () => {
  let database: TestDatabase;
  let storage: Storage;

  beforeAll(async () => {
    database = createTestDatabase('postgres');
    storage = openStorage(
      testStorageOptions(database, { databasePoolSize: 1, databaseAcquireTimeoutMs: 200 }),
    );
    await migrateToLatest(storage);
  });

  afterAll(async () => {
    await storage.close();
    await database.drop();
  });

  it('fails a transaction with DatabaseUnavailableError once the wait is over, and serves again afterwards', async () => {
    const hold = await holdConnection(storage);
    const started = Date.now();
    const waiting = storage.kysely.transaction().execute(() => Promise.resolve('ran'));
    await expect(waiting).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await hold.release();
    await expect(storage.kysely.transaction().execute(() => Promise.resolve('ran'))).resolves.toBe('ran');
  });

  describe('over HTTPS', () => {
    let server: TestServer;
    let owner: SignedIn;

    beforeAll(async () => {
      server = await startTestServer({
        dialect: 'postgres',
        env: { PARLEY_DATABASE_POOL_SIZE: '1', PARLEY_DATABASE_ACQUIRE_TIMEOUT_MS: '1000' },
      });
      owner = await newTenantOwner(server);
    });

    afterAll(async () => {
      await server.close();
    });

    it('answers 503 service_unavailable with Retry-After, no cause in the body, and serves once a connection is free', async () => {
      const me = () =>
        server.request('/v1/me', { headers: { authorization: `Bearer ${owner.accessToken}` } });
      expect((await me()).status).toBe(200);
      const hold = await holdConnection(server.app.storage);
      const refused = await me();
      await hold.release();
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      const body = refused.json<{ error: { code: string; message: string; requestId: string } }>();
      expect(body.error.code).toBe('service_unavailable');
      expect(body.error.requestId).toBeTruthy();
      expect(refused.text).not.toMatch(/timeout exceeded|pool|stack|at .*\.ts/i);
      expect(server.logs.text()).toContain('no database connection in time');
      expect((await me()).status).toBe(200);
    });

    it('answers a realtime send with a service_unavailable frame, and the same send stores once when retried', async () => {
      const created = await server.request(
        '/v1/dialogs',
        json({ type: 'group', name: 'Busy', memberIds: [] }, owner.accessToken),
      );
      const dialogId = created.json<{ id: string }>().id;
      const socket = await openSocket(server, owner.accessToken);
      // The frame id is the message's client id: a retry of the refused send is the same send.
      const send = () => {
        socket.send({ type: 'message.send', id: 'retry-me', dialogId, body: 'when you can' });
      };
      const hold = await holdConnection(server.app.storage);
      send();
      const refused = await socket.next((frame) => frame.id === 'retry-me');
      await hold.release();
      expect(refused).toMatchObject({ type: 'error', code: 'service_unavailable' });
      expect(JSON.stringify(refused)).not.toMatch(/timeout exceeded|pool/i);
      send();
      expect(await socket.next((frame) => frame.id === 'retry-me' && frame.type === 'ack')).toBeTruthy();
      const history = await server.request(`/v1/dialogs/${dialogId}/messages`, {
        headers: { authorization: `Bearer ${owner.accessToken}` },
      });
      expect(
        history.json<{ messages: { body: string }[] }>().messages.map((message) => message.body),
      ).toEqual(['when you can']);
      socket.ws.close();
    });
  });
});
