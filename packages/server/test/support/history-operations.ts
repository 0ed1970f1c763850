import { expect } from 'vitest';
import type { MessageStream } from '../../src/messaging/message-stream.ts';
import { bearer, json, type SignedIn } from './identity-fixtures.ts';
import type { TestServer } from './start-server.ts';

/**
 * Stream page size. The realtime hub pages by 200; a smaller page lets the shallow history of size 1 fill a
 * whole page of events too, so that both sizes read full pages and compare like with like.
 */
export const PAGE = 40;

/** The dialogs the operations use: one-to-one, a group, a group that hides history from late joiners. */
export interface Scene {
  owner: SignedIn;
  bob: { userId: string; token: string };
  carol: { userId: string; token: string };
  dialogs: { pair: string; group: string; hidden: string };
}

/** What the operations of one size share: the scene, and positions taken before they run. */
export interface Moment {
  server: TestServer;
  /**
   * The stream as read from the database: what every node but the sender's reads, and the sender's too
   * past what it keeps of its own commits (the app's stream serves those from memory).
   */
  stream: MessageStream;
  scene: Scene;
  /** A word only this size's sends contain: search finds as many messages at both sizes. */
  word: string;
  /** The group's last sequence number before the operations, and messages near it. */
  lastSeq: number;
  replyTo: string;
  around: string;
  /** Each dialog's last sequence number before the batch of sends: where the delivery read starts. */
  beforeBatch: Map<string, number>;
  /** The message the REST send stored; then edited, reacted to and hidden. */
  sent: string;
}

/** A request that must succeed (a failed one would measure an error path). */
export async function must(server: TestServer, path: string, options: Parameters<TestServer['request']>[1]) {
  const response = await server.request(path, options);
  expect(response.status, `${path}: ${response.text}`).toBeLessThan(300);
  return response;
}

const sendInput = (clientId: string, body: string) => ({ clientId, body, mentions: [], attachments: [] });

/**
 * The operations of issue 11's hot paths, in this order, each run once per size by history-cost.test.ts:
 * sends (REST, and a batch as realtime frames make), the delivery read, resumes, history pages, search, the
 * dialogs list, receipts, and the changes delivered as events.
 */
export const historyOperations: { name: string; run: (m: Moment) => Promise<unknown> }[] = [
  {
    name: 'send (REST)',
    run: async (m) => {
      const { owner, dialogs } = m.scene;
      const response = await must(
        m.server,
        `/v1/dialogs/${dialogs.pair}/messages`,
        json({ clientId: `${m.word}-rest`, body: `a ${m.word} for you` }, owner.accessToken),
      );
      m.sent = response.json<{ id: string }>().id;
    },
  },
  {
    name: 'send batch of three dialogs (group commit, as realtime frames arrive)',
    run: async (m) => {
      const { owner, bob, carol, dialogs } = m.scene;
      const { messages } = m.server.app.services;
      await Promise.all([
        messages.send(owner.tenantId, bob.userId, dialogs.pair, sendInput(`${m.word}-1`, `${m.word} one`)),
        messages.send(owner.tenantId, carol.userId, dialogs.group, {
          ...sendInput(`${m.word}-2`, `${m.word} two`),
          replyTo: m.replyTo,
          mentions: [bob.userId],
        }),
        messages.send(
          owner.tenantId,
          owner.userId,
          dialogs.hidden,
          sendInput(`${m.word}-3`, `${m.word} three`),
        ),
      ]);
    },
  },
  {
    name: 'delivery read of three dialogs',
    run: (m) => {
      const { owner, bob, carol, dialogs } = m.scene;
      return m.stream.sharedMany(
        owner.tenantId,
        Object.values(dialogs).map((dialogId) => ({
          dialogId,
          after: m.beforeBatch.get(dialogId) ?? 0,
          readerIds: [owner.userId, bob.userId, carol.userId],
        })),
        PAGE,
      );
    },
  },
  {
    name: 'resume from a recent position',
    run: (m) =>
      m.stream.after(
        m.scene.owner.tenantId,
        m.scene.bob.userId,
        m.scene.dialogs.group,
        m.lastSeq - 150,
        PAGE,
      ),
  },
  {
    name: 'resume from an old position',
    run: (m) => m.stream.after(m.scene.owner.tenantId, m.scene.bob.userId, m.scene.dialogs.group, 10, PAGE),
  },
  {
    name: 'history: newest page',
    run: (m) => must(m.server, `/v1/dialogs/${m.scene.dialogs.group}/messages`, bearer(m.scene.bob.token)),
  },
  {
    name: 'history: older page',
    run: (m) =>
      must(
        m.server,
        `/v1/dialogs/${m.scene.dialogs.group}/messages?before=${m.lastSeq - 100}`,
        bearer(m.scene.bob.token),
      ),
  },
  {
    name: 'history: newer page',
    run: (m) =>
      must(m.server, `/v1/dialogs/${m.scene.dialogs.group}/messages?after=20`, bearer(m.scene.bob.token)),
  },
  {
    // The moment of a message near the newest: the page starts at it, after the whole grown history.
    name: 'history: jump to a date',
    run: async (m) => {
      const group = m.scene.dialogs.group;
      const around = await must(
        m.server,
        `/v1/dialogs/${group}/messages?around=${m.around}`,
        bearer(m.scene.bob.token),
      );
      const { messages } = around.json<{ messages: { id: string; createdAt: string }[] }>();
      const at = messages.find((message) => message.id === m.around)?.createdAt ?? '';
      return must(m.server, `/v1/dialogs/${group}/messages?at=${at}`, bearer(m.scene.bob.token));
    },
  },
  {
    name: 'history: around a message',
    run: (m) =>
      must(
        m.server,
        `/v1/dialogs/${m.scene.dialogs.group}/messages?around=${m.around}`,
        bearer(m.scene.bob.token),
      ),
  },
  {
    name: 'search: a word',
    run: (m) => must(m.server, `/v1/search/messages?q=${m.word}`, bearer(m.scene.bob.token)),
  },
  {
    name: 'search: a prefix',
    run: (m) => must(m.server, `/v1/search/messages?q=${m.word.slice(0, 5)}*`, bearer(m.scene.bob.token)),
  },
  { name: 'dialogs list', run: (m) => must(m.server, '/v1/dialogs', bearer(m.scene.bob.token)) },
  {
    name: 'read receipt',
    run: (m) =>
      must(
        m.server,
        `/v1/dialogs/${m.scene.dialogs.group}/read`,
        json({ seq: m.lastSeq }, m.scene.bob.token),
      ),
  },
  {
    name: 'delivered receipt',
    run: (m) =>
      must(
        m.server,
        `/v1/dialogs/${m.scene.dialogs.group}/delivered`,
        json({ seq: m.lastSeq + 1 }, m.scene.carol.token),
      ),
  },
  {
    name: 'receipts list',
    run: (m) => must(m.server, `/v1/dialogs/${m.scene.dialogs.group}/receipts`, bearer(m.scene.bob.token)),
  },
  {
    name: 'edit a message',
    run: (m) =>
      must(
        m.server,
        `/v1/dialogs/${m.scene.dialogs.pair}/messages/${m.sent}`,
        json({ body: `an edited ${m.word}` }, m.scene.owner.accessToken, 'PATCH'),
      ),
  },
  {
    name: 'react to a message',
    run: (m) =>
      must(
        m.server,
        `/v1/dialogs/${m.scene.dialogs.pair}/messages/${m.sent}/reactions/%F0%9F%91%8D`,
        bearer(m.scene.bob.token, 'PUT'),
      ),
  },
  {
    name: 'delete a message for me',
    run: (m) =>
      must(
        m.server,
        `/v1/dialogs/${m.scene.dialogs.pair}/messages/${m.sent}?for=me`,
        bearer(m.scene.bob.token, 'DELETE'),
      ),
  },
];
