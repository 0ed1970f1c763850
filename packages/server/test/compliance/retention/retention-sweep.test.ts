import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createRetentionSweeper } from '../../../src/compliance/retention/retention-sweeper.ts';
import { createAttachmentErasure } from '../../../src/attachments/attachment-erasure.ts';
import { createAttachmentSharing } from '../../../src/attachments/attachment-sharing.ts';
import { SqliteSearchIndex } from '../../../src/messaging/search/sqlite-search-index.ts';
import { PostgresSearchIndex } from '../../../src/messaging/search/postgres-search-index.ts';
import { SearchTokenHasher } from '../../../src/messaging/search/search-token-hasher.ts';
import { describeEachDialect, describePostgres } from '../../support/dialects.ts';
import { json, newMember, newTenantOwner, type SignedIn } from '../../support/identity-fixtures.ts';
import { parley } from '../../support/run-cli.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';
import { startTwoNodes, type TwoNodes } from '../../support/two-nodes.ts';

/**
 * The retention sweeper under interruption and on two nodes, the dry run from the command line, and erasure
 * waiting on a legal hold. Attacks tried: a sweep stopped after its first batch (nothing half done, the rest
 * deleted on resume, one receipt), two nodes racing for one occurrence (it runs once), erasing a held user
 * (refused until the hold ends, then done).
 */
const DAY = 86_400_000;

async function sendAll(server: TestServer, owner: SignedIn, dialogId: string, count: number) {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const sent = await server.request(
      `/v1/dialogs/${dialogId}/messages`,
      json({ clientId: `m-${i}-${Math.random()}`, body: `expiring message ${i}` }, owner.accessToken),
    );
    expect(sent.status, sent.text).toBe(201);
    ids.push(sent.json<{ id: string }>().id);
  }
  return ids;
}

async function backdate(server: TestServer, tenantId: string, days: number) {
  await server.app.storage.withTenant(tenantId, (tx) =>
    tx
      .updateTable('messages')
      .set((eb) => ({ created_at: eb('created_at', '-', days * DAY) }))
      .where('tenant_id', '=', tenantId)
      .execute(),
  );
}

async function newDialog(server: TestServer, owner: SignedIn, name: string) {
  const created = await server.request(
    '/v1/dialogs',
    json({ type: 'group', name, memberIds: [] }, owner.accessToken),
  );
  expect(created.status, created.text).toBe(201);
  return created.json<{ id: string }>().id;
}

describeEachDialect('retention sweep', (dialect) => {
  let server: TestServer;
  let offset = 0;
  const clock = { now: () => Date.now() + offset };

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock, env: { PARLEY_JOB_POLL_INTERVAL_MS: '100' } });
  });

  afterAll(async () => {
    await server.close();
  });

  it('an interrupted sweep leaves no half message, resumes where it stopped and writes one receipt', async () => {
    const owner = await newTenantOwner(server, 'Interrupted Clinic');
    const dialogId = await newDialog(server, owner, 'Busy');
    const ids = await sendAll(server, owner, dialogId, 5);
    await server.request('/v1/retention', json({ messages: '1d' }, owner.accessToken, 'PATCH'));
    await backdate(server, owner.tenantId, 2);

    // A sweeper of one message per batch, stopped once its first batch committed.
    const stop = new AbortController();
    const security = server.app.security;
    const tokens = new SearchTokenHasher(security.keyring);
    const sweeper = createRetentionSweeper({
      storage: server.app.storage,
      clock,
      audit: server.app.services.audit,
      rules: server.app.services.retention,
      holds: server.app.services.legalHolds,
      fanout: {
        ...server.app.services.fanout,
        published: async (...args: Parameters<typeof server.app.services.fanout.published>) => {
          stop.abort(new Error('node stopped'));
          await server.app.services.fanout.published(...args);
        },
      },
      index: dialect === 'postgres' ? new PostgresSearchIndex(tokens) : new SqliteSearchIndex(tokens),
      attachments: createAttachmentSharing({ fieldCipher: security.fieldCipher, dialect }),
      eraseAttachments: (tx, tenantId, ids) =>
        createAttachmentErasure({ storage: server.app.storage }).eraseIds(tx, tenantId, ids),
      batchSize: 1,
    });
    await expect(sweeper.sweep({ tenantId: owner.tenantId, signal: stop.signal })).rejects.toThrow();

    const state = () =>
      server.app.storage.withTenant(owner.tenantId, async (tx) => ({
        messages: await tx
          .selectFrom('messages')
          .select(['id', 'body', 'deleted_at'])
          .where('tenant_id', '=', owner.tenantId)
          .orderBy('seq')
          .execute(),
        deletions: await tx
          .selectFrom('dialog_events')
          .select('message_id')
          .where('tenant_id', '=', owner.tenantId)
          .where('kind', '=', 'deleted')
          .execute(),
        search: await tx
          .selectFrom('message_search')
          .select('message_id')
          .where('tenant_id', '=', owner.tenantId)
          .execute(),
        receipts: await tx
          .selectFrom('audit_log')
          .select('details')
          .where('tenant_id', '=', owner.tenantId)
          .where('action', '=', 'retention.sweep_receipt')
          .execute(),
      }));
    const stopped = await state();
    // Every message is either whole (text, search entry, no deletion) or gone whole (no text, no entry, one
    // deletion event): never half.
    const deleted = new Set(stopped.deletions.map((row) => row.message_id));
    const searched = new Set(stopped.search.map((row) => row.message_id));
    for (const message of stopped.messages) {
      if (deleted.has(message.id)) {
        expect(message.body).toBeNull();
        expect(searched.has(message.id)).toBe(false);
      } else {
        expect(message.body).not.toBeNull();
        expect(searched.has(message.id)).toBe(true);
      }
    }
    expect(deleted.size).toBe(1);
    expect(stopped.receipts).toEqual([]);

    await sweeper.sweep({ tenantId: owner.tenantId });
    const resumed = await state();
    expect(resumed.messages.every((message) => message.body === null)).toBe(true);
    expect(resumed.deletions.map((row) => row.message_id).sort()).toEqual([...ids].sort());
    expect(resumed.search).toEqual([]);
    expect(resumed.receipts).toHaveLength(1);
    const receipt = JSON.parse(resumed.receipts[0]?.details ?? '{}') as {
      rules: { messages: { count: number; firstId: string; lastId: string } };
    };
    expect(receipt.rules.messages).toMatchObject({
      count: 5,
      firstId: [...ids].sort()[0],
      lastId: [...ids].sort()[4],
    });
    expect((await server.app.services.audit.verify(server.app.storage, owner.tenantId)).ok).toBe(true);
  });

  it('erasure of a held user waits, visibly, and proceeds once the hold is released', async () => {
    const owner = await newTenantOwner(server, 'Held Clinic');
    const member = await newMember(server, owner, `held-${Date.now()}@retention.example`);
    const hold = await server.request(
      '/v1/legal-holds',
      json({ targetType: 'user', targetId: member.userId, reason: 'Pending litigation' }, owner.accessToken),
    );
    expect(hold.status, hold.text).toBe(201);
    const asked = await server.request(
      `/v1/users/${member.userId}/erasure`,
      json({ graceDays: 0 }, owner.accessToken),
    );
    expect(asked.status, asked.text).toBe(202);
    const job = () =>
      server.app.storage.withTenant(owner.tenantId, (tx) =>
        tx
          .selectFrom('jobs')
          .select(['state', 'error_code', 'attempts'])
          .where('kind', '=', 'gdpr_erasure')
          .executeTakeFirstOrThrow(),
      );
    await vi.waitFor(
      async () => {
        expect((await job()).error_code).toBe('legal_hold');
      },
      { timeout: 10_000 },
    );
    expect(await job()).toMatchObject({ state: 'queued', attempts: 0 });
    const user = await server.app.services.users.getUser(owner.tenantId, member.userId);
    expect(user.status).toBe('active');

    const released = await server.request(
      `/v1/legal-holds/${hold.json<{ id: string }>().id}/release`,
      json({}, owner.accessToken),
    );
    expect(released.status, released.text).toBe(200);
    // The erasure looks again a minute later.
    offset += 61_000;
    await vi.waitFor(
      async () => {
        expect((await job()).state).toBe('succeeded');
      },
      { timeout: 20_000 },
    );
    const erased = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx.selectFrom('users').select('status').where('id', '=', member.userId).executeTakeFirstOrThrow(),
    );
    expect(erased.status).toBe('erased');
  });

  it('`parley retention plan` prints counts per rule, never contents', async () => {
    const owner = await newTenantOwner(server, 'Planned Clinic');
    const dialogId = await newDialog(server, owner, 'Planned');
    await sendAll(server, owner, dialogId, 3);
    await server.request('/v1/retention', json({ messages: '1d' }, owner.accessToken, 'PATCH'));
    await backdate(server, owner.tenantId, 2 + offset / DAY);
    const result = await parley(['retention', 'plan', '--tenant', owner.tenantId], server.database.env);
    expect(result.code, result.stderr).toBe(0);
    const plan = JSON.parse(result.stdout.trim()) as {
      tenantId: string;
      rules: { rule: string; count: number }[];
    };
    expect(plan.tenantId).toBe(owner.tenantId);
    expect(plan.rules.find((rule) => rule.rule === 'messages')?.count).toBe(3);
    expect(result.stdout).not.toContain('expiring message');
  });
});

describePostgres('retention sweep on two nodes', () => {
  let nodes: TwoNodes;

  beforeAll(async () => {
    nodes = await startTwoNodes({ env: { PARLEY_JOB_POLL_INTERVAL_MS: '100' } });
  });

  afterAll(async () => {
    await nodes.close();
  });

  it('two nodes racing for one occurrence: never both at once, one deletion per message, one receipt', async () => {
    const { nodeA, nodeB } = nodes;
    const owner = await newTenantOwner(nodeA, 'Cluster Clinic');
    const dialogId = await newDialog(nodeA, owner, 'Shared');
    await sendAll(nodeA, owner, dialogId, 4);
    await nodeA.request('/v1/retention', json({ messages: '1d' }, owner.accessToken, 'PATCH'));
    await backdate(nodeA, owner.tenantId, 2);
    await nodeA.app.storage.withSystem((tx) =>
      tx
        .updateTable('scheduled_tasks')
        .set({ next_run_at: 0 })
        .where('name', '=', 'retention.sweep')
        .execute(),
    );
    // Each node's scheduler names the task among its runs from the moment it launched it until it ends.
    const launched: string[][] = await Promise.all(
      [nodeA, nodeB].map((node) =>
        node.app.jobs.scheduler.tick().then(() => node.app.jobs.scheduler.running()),
      ),
    );
    expect(launched.filter((running) => running.includes('retention.sweep')).length).toBeLessThanOrEqual(1);
    await vi.waitFor(
      async () => {
        const task = await nodeA.app.storage.withSystem((tx) =>
          tx
            .selectFrom('scheduled_tasks')
            .select(['last_outcome', 'next_run_at'])
            .where('name', '=', 'retention.sweep')
            .executeTakeFirstOrThrow(),
        );
        expect(task.last_outcome).toBe('succeeded');
        expect(task.next_run_at).toBeGreaterThan(0);
      },
      { timeout: 20_000 },
    );
    await Promise.all([nodeA.app.jobs.scheduler.settled(), nodeB.app.jobs.scheduler.settled()]);
    const rows = await nodeA.app.storage.withTenant(owner.tenantId, async (tx) => ({
      deletions: await tx
        .selectFrom('dialog_events')
        .select('message_id')
        .where('tenant_id', '=', owner.tenantId)
        .where('kind', '=', 'deleted')
        .execute(),
      receipts: await tx
        .selectFrom('audit_log')
        .select('seq')
        .where('tenant_id', '=', owner.tenantId)
        .where('action', '=', 'retention.sweep_receipt')
        .execute(),
    }));
    expect(rows.deletions).toHaveLength(4);
    expect(new Set(rows.deletions.map((row) => row.message_id)).size).toBe(4);
    expect(rows.receipts).toHaveLength(1);
  });
});
