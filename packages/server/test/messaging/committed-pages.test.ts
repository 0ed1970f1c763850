import { describe, expect, it } from 'vitest';
import type { MessageBody } from '@parley/protocol';
import { CommittedPages, withCommittedPages } from '../../src/messaging/committed-pages.ts';
import type {
  MessageStream,
  SharedItem,
  SharedRead,
  SharedStreamPage,
  StreamViewer,
} from '../../src/messaging/message-stream.ts';

const message = (seq: number): MessageBody => ({
  id: `m${seq}`,
  dialogId: 'd',
  seq,
  senderId: 'alice',
  clientId: `c${seq}`,
  body: `hello ${seq}`,
  replyTo: null,
  mentions: [],
  properties: null,
  attachments: [],
  reactions: [],
  createdAt: new Date(0).toISOString(),
  editedAt: null,
  deleted: false,
});

const item = (seq: number): SharedItem => ({
  item: { type: 'message.new', seq, message: message(seq) },
  messageId: `m${seq}`,
  messageSeq: seq,
});

const viewers = (entries: Record<string, number>) =>
  new Map<string, StreamViewer>(
    Object.entries(entries).map(([id, floor]) => [id, { floor, hidden: new Set<string>() }]),
  );

/** A run of messages (after, upTo] as a send batch records it. */
const run = (after: number, upTo: number, readers = viewers({ alice: 0, bob: 0 })) => ({
  after,
  upTo,
  items: Array.from({ length: upTo - after }, (_, index) => item(after + index + 1)),
  viewers: readers,
});

const read = (after: number, readerIds = ['bob']): SharedRead => ({ dialogId: 'd', after, readerIds });
const seqs = (page: SharedStreamPage | undefined) => page?.items.map((entry) => entry.item.seq);

/**
 * A node hands out what it has just committed without reading it back — but only when what it holds is the
 * whole stream above the reader's position. Anything it cannot vouch for (a change another node or another
 * path committed, an evicted run, a reader it did not see as a member) must go to the database, or a reader
 * would skip a change for good.
 */
describe('committed pages', () => {
  it('serve a chain of runs from the reader’s position, and only the part above it', () => {
    const pages = new CommittedPages({ maxRuns: 10 });
    pages.record('t', 'd', run(0, 2));
    pages.record('t', 'd', run(2, 5));
    expect(seqs(pages.page('t', read(0), 200))).toEqual([1, 2, 3, 4, 5]);
    expect(seqs(pages.page('t', read(3), 200))).toEqual([4, 5]);
    expect(pages.page('t', read(3), 200)?.upTo).toBe(5);
  });

  it('refuse a position they have no run for, below or at the head', () => {
    const pages = new CommittedPages({ maxRuns: 10 });
    pages.record('t', 'd', run(4, 6));
    expect(pages.page('t', read(3), 200)).toBeUndefined();
    expect(pages.page('t', read(6), 200)).toBeUndefined();
    expect(pages.page('t', { ...read(4), dialogId: 'other' }, 200)).toBeUndefined();
    expect(pages.page('other-tenant', read(4), 200)).toBeUndefined();
  });

  it('forget everything before a gap: a change committed elsewhere (seq 3) is never skipped', () => {
    const pages = new CommittedPages({ maxRuns: 10 });
    pages.record('t', 'd', run(0, 2));
    pages.record('t', 'd', run(3, 4));
    expect(pages.page('t', read(0), 200)).toBeUndefined();
    expect(pages.page('t', read(2), 200)).toBeUndefined();
    expect(seqs(pages.page('t', read(3), 200))).toEqual([4]);
  });

  it('refuse a reader who was not a reader of the run, and show each reader their own floor', () => {
    const pages = new CommittedPages({ maxRuns: 10 });
    pages.record('t', 'd', run(0, 3, viewers({ alice: 0, bob: 2 })));
    expect(pages.page('t', read(0, ['bob', 'mallory']), 200)).toBeUndefined();
    const page = pages.page('t', read(0, ['bob']), 200);
    expect([...(page?.viewers.keys() ?? [])]).toEqual(['bob']);
    expect(page?.viewers.get('bob')?.floor).toBe(2);
  });

  it('stop a chain where the readers changed, so one page never mixes two memberships', () => {
    const pages = new CommittedPages({ maxRuns: 10 });
    pages.record('t', 'd', run(0, 2, viewers({ alice: 0, bob: 0 })));
    pages.record('t', 'd', run(2, 3, viewers({ alice: 0, bob: 0, carol: 2 })));
    expect(pages.page('t', read(0), 200)?.upTo).toBe(2);
    expect(seqs(pages.page('t', read(2, ['carol']), 200))).toEqual([3]);
  });

  it('evict the oldest runs past their cap', () => {
    const pages = new CommittedPages({ maxRuns: 2 });
    pages.record('t', 'd', run(0, 1));
    pages.record('t', 'd', run(1, 2));
    pages.record('t', 'd', run(2, 3));
    expect(pages.page('t', read(0), 200)).toBeUndefined();
    expect(seqs(pages.page('t', read(1), 200))).toEqual([2, 3]);
  });

  it('let the stream answer every read they cannot, in the same call', async () => {
    const pages = new CommittedPages({ maxRuns: 10 });
    pages.record('t', 'd', run(0, 2));
    const asked: SharedRead[][] = [];
    const database = {
      sharedMany: (_tenantId: string, reads: readonly SharedRead[]) => {
        asked.push([...reads]);
        return Promise.resolve(
          new Map(
            reads.map((one) => [
              one.dialogId,
              { items: [], upTo: 9, more: false, viewers: new Map() } satisfies SharedStreamPage,
            ]),
          ),
        );
      },
      after: () => Promise.reject(new Error('not used')),
    } as unknown as MessageStream;
    const stream = withCommittedPages(database, pages);
    const answer = await stream.sharedMany('t', [read(0), { ...read(0), dialogId: 'e' }], 200);
    expect(seqs(answer.get('d'))).toEqual([1, 2]);
    expect(answer.get('e')?.upTo).toBe(9);
    expect(asked).toEqual([[{ ...read(0), dialogId: 'e' }]]);
    // A page is cut at the read's limit and says more follows.
    const cut = await stream.sharedMany('t', [read(0)], 1);
    expect(cut.get('d')).toMatchObject({ upTo: 1, more: true });
    expect(seqs(cut.get('d'))).toEqual([1]);
    expect(asked).toHaveLength(1);
  });
});
