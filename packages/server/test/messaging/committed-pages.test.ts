import { describe, expect, it } from 'vitest';
import type { MessageBody } from '@parley/protocol';
import { type CommittedPage, CommittedPages } from '../../src/messaging/committed-pages.ts';
import type { SharedItem } from '../../src/messaging/message-stream.ts';

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

/** A run of messages (after, upTo] as a send batch records it. */
const run = (after: number, upTo: number) => ({
  after,
  upTo,
  items: Array.from({ length: upTo - after }, (_, index) => item(after + index + 1)),
});

const seqs = (page: CommittedPage | undefined) => page?.items.map((entry) => entry.item.seq);

/**
 * A node hands out what it has just committed without reading it back — but only when what it holds is the
 * whole stream above the reader's position. Anything it cannot vouch for (a change another node or another
 * path committed, an evicted run) must go to the database, or a reader would skip a change for good.
 */
describe('committed pages', () => {
  it('serve a chain of runs from the reader’s position, and only the part above it', () => {
    const pages = new CommittedPages({ maxRuns: 10 });
    pages.record('t', 'd', run(0, 2));
    pages.record('t', 'd', run(2, 5));
    expect(seqs(pages.page('t', 'd', 0, 200))).toEqual([1, 2, 3, 4, 5]);
    expect(pages.page('t', 'd', 3, 200)).toEqual({
      items: [item(4), item(5)],
      upTo: 5,
      more: false,
      reach: 5,
    });
  });

  it('refuse a position they have no run for, below or at the head, and other dialogs and tenants', () => {
    const pages = new CommittedPages({ maxRuns: 10 });
    pages.record('t', 'd', run(4, 6));
    expect(pages.page('t', 'd', 3, 200)).toBeUndefined();
    expect(pages.page('t', 'd', 6, 200)).toBeUndefined();
    expect(pages.page('t', 'other', 4, 200)).toBeUndefined();
    expect(pages.page('other-tenant', 'd', 4, 200)).toBeUndefined();
  });

  it('forget everything before a gap: a change committed elsewhere (seq 3) is never skipped', () => {
    const pages = new CommittedPages({ maxRuns: 10 });
    pages.record('t', 'd', run(0, 2));
    pages.record('t', 'd', run(3, 4));
    expect(pages.page('t', 'd', 0, 200)).toBeUndefined();
    expect(pages.page('t', 'd', 2, 200)).toBeUndefined();
    expect(seqs(pages.page('t', 'd', 3, 200))).toEqual([4]);
  });

  it('cut a page at the read’s limit and say more follows', () => {
    const pages = new CommittedPages({ maxRuns: 10 });
    pages.record('t', 'd', run(0, 3));
    pages.record('t', 'd', run(3, 5));
    expect(pages.page('t', 'd', 0, 2)).toEqual({ items: [item(1), item(2)], upTo: 2, more: true, reach: 5 });
    expect(pages.page('t', 'd', 2, 3)).toEqual({
      items: [item(3), item(4), item(5)],
      upTo: 5,
      more: false,
      reach: 5,
    });
  });

  it('evict the oldest runs past their cap', () => {
    const pages = new CommittedPages({ maxRuns: 2 });
    pages.record('t', 'd', run(0, 1));
    pages.record('t', 'd', run(1, 2));
    pages.record('t', 'd', run(2, 3));
    expect(pages.page('t', 'd', 0, 200)).toBeUndefined();
    expect(seqs(pages.page('t', 'd', 1, 200))).toEqual([2, 3]);
  });
});
