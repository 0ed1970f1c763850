import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Storage } from '../../src/storage/database.ts';
import { describePostgres } from '../support/dialects.ts';
import { json, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import type { TestServer } from '../support/start-server.ts';
import { startTwoNodes, type TwoNodes } from '../support/two-nodes.ts';

/**
 * Two nodes batch sends into the same dialogs at the same time. Each batch locks its dialogs in id order in
 * one statement, so the two transactions wait for each other instead of deadlocking — even when the sends
 * arrive on the two nodes in opposite dialog orders, which would deadlock batches that locked each dialog
 * as its first send came up.
 */

/** Counts tenant transactions started and committed on one node, until `restore`. */
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

describePostgres('group commit of sends on two nodes', () => {
  let nodes: TwoNodes;
  let owner: SignedIn;
  const memberIds: string[] = [];

  beforeAll(async () => {
    nodes = await startTwoNodes();
    owner = await newTenantOwner(nodes.nodeA, 'Two Node Batch Clinic');
    for (const name of ['ann', 'ben']) {
      const created = await nodes.nodeA.request(
        '/v1/users',
        json(
          {
            displayName: name,
            email: `${name}@two-node-batch.example`,
            password: 'amber lanterns sway at dusk',
            roles: ['member'],
          },
          owner.accessToken,
        ),
      );
      expect(created.status, created.text).toBe(201);
      memberIds.push(created.json<{ userId: string }>().userId);
    }
  });

  afterAll(async () => {
    await nodes.close();
  });

  it('commits concurrent batches of both nodes into the same dialogs without a deadlock or a failed batch; seqs gap-free in arrival order per node', async () => {
    const dialogs: string[] = [];
    for (let count = 0; count < 4; count += 1) {
      const created = await nodes.nodeA.request(
        '/v1/dialogs',
        json({ type: 'group', name: `Ward ${count}`, memberIds }, owner.accessToken),
      );
      expect(created.status, created.text).toBe(201);
      dialogs.push(created.json<{ id: string }>().id);
    }
    const [ann = '', ben = ''] = memberIds;
    const burst = (node: TestServer, senderId: string, order: string[]) =>
      Array.from({ length: 80 }, (_, index) => {
        const dialogId = order[index % order.length] ?? '';
        return {
          dialogId,
          sent: node.app.services.messages.send(owner.tenantId, senderId, dialogId, {
            clientId: `${senderId}-${index}`,
            body: `message ${index}`,
            mentions: [],
            attachments: [],
          }),
        };
      });
    const onA = countTransactions(nodes.nodeA.app.storage);
    const onB = countTransactions(nodes.nodeB.app.storage);
    let sends: { dialogId: string; senderId: string; seq: number }[];
    try {
      const fromA = burst(nodes.nodeA, ann, dialogs);
      const fromB = burst(nodes.nodeB, ben, [...dialogs].reverse());
      sends = await Promise.all([
        ...fromA.map(async ({ dialogId, sent }) => ({
          dialogId,
          senderId: ann,
          seq: (await sent).message.seq,
        })),
        ...fromB.map(async ({ dialogId, sent }) => ({
          dialogId,
          senderId: ben,
          seq: (await sent).message.seq,
        })),
      ]);
    } finally {
      onA.restore();
      onB.restore();
    }
    // A deadlock (or any other failure) would have rolled a batch back: started > committed.
    expect(onA.counts.started).toBe(onA.counts.committed);
    expect(onB.counts.started).toBe(onB.counts.committed);
    expect(onA.counts.committed + onB.counts.committed).toBeLessThan(20);
    for (const dialogId of dialogs) {
      const mine = sends.filter((send) => send.dialogId === dialogId);
      expect(mine.map((send) => send.seq).sort((a, b) => a - b)).toEqual(mine.map((_, index) => index + 1));
      for (const senderId of [ann, ben]) {
        const theirs = mine.filter((send) => send.senderId === senderId).map((send) => send.seq);
        expect(theirs).toEqual([...theirs].sort((a, b) => a - b));
      }
    }
  });
});
