import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { StreamIntegrityError } from '../../../src/crypto/stream-cipher.ts';
import {
  type ArchiveEntry,
  type ChunkBatch,
  writeArchivePart,
} from '../../../src/compliance/gdpr/export-archive-writer.ts';
import { readArchive, type StoredPart } from '../../../src/compliance/gdpr/export-archive-reader.ts';
import { unpackArchive } from './export-archive-fixtures.ts';

const key = randomBytes(32);
const contextOf = (part: number) => Buffer.from(`test/export/part/${part}`);
const mtime = new Date('2026-01-01T00:00:00Z');

/** Parts written into memory the way the export job stores them: chunk rows and a part row each. */
async function writeParts(partsEntries: ArchiveEntry[][]) {
  const chunks = new Map<string, Buffer>();
  const parts: StoredPart[] = [];
  for (const [part, entries] of partsEntries.entries()) {
    const store = (batch: ChunkBatch) => {
      batch.chunks.forEach((data, offset) => chunks.set(`${part}/${batch.firstIndex + offset}`, data));
      return Promise.resolve();
    };
    const written = await writeArchivePart({
      key,
      context: contextOf(part),
      entries,
      mtime,
      last: part === partsEntries.length - 1,
      flush: store,
    });
    await store(written.tail);
    parts.push({ part, streamHeader: written.header, chunkCount: written.chunkCount });
  }
  const read = (stored = parts, partCount = parts.length) =>
    buffer(
      readArchive({
        key,
        contextOf,
        parts: stored,
        partCount,
        chunks: (part, from, to) => {
          const rows: { idx: number; data: Buffer }[] = [];
          for (let idx = from; idx <= to; idx += 1) {
            const data = chunks.get(`${part}/${idx}`);
            if (data) rows.push({ idx, data });
          }
          return Promise.resolve(rows);
        },
      }),
    );
  return { chunks, parts, read };
}

/** The content in pieces, as a stream delivers it. */
const slowly = (content: Buffer) =>
  Readable.from(
    Array.from({ length: Math.ceil(content.length / 10_000) }, (_, i) =>
      content.subarray(i * 10_000, (i + 1) * 10_000),
    ),
  );

describe('export archive parts', () => {
  it('parts written apart read back as one .tar.gz with every file, streamed ones included', async () => {
    const big = randomBytes(300_000); // several chunks, flushed in batches while it streams
    const { read } = await writeParts([
      [{ path: 'x/a.json', content: Buffer.from('{"a":1}') }],
      [
        { path: 'x/files/1/big.bin', size: big.length, stream: () => slowly(big) },
        { path: 'x/b.json', content: Buffer.from('{"b":2}') },
      ],
      [{ path: 'x/manifest.json', content: Buffer.from('{}') }],
    ]);
    const files = await unpackArchive(await read());
    expect([...files.keys()]).toEqual(['x/a.json', 'x/files/1/big.bin', 'x/b.json', 'x/manifest.json']);
    expect(files.get('x/files/1/big.bin')?.equals(big)).toBe(true);
    expect(files.get('x/b.json')?.toString()).toBe('{"b":2}');
  });

  it('a streamed entry that yields a different size than declared fails the part', async () => {
    await expect(
      writeParts([[{ path: 'x/short.bin', size: 10, stream: () => Readable.from([Buffer.alloc(4)]) }]]),
    ).rejects.toThrow();
  });

  it('a missing part, a dropped chunk or a part sealed for another place fails the read', async () => {
    const { chunks, parts, read } = await writeParts([
      [{ path: 'x/a.bin', content: randomBytes(200_000) }],
      [{ path: 'x/b.json', content: Buffer.from('{}') }],
    ]);
    await expect(read(parts.slice(1), 2)).rejects.toThrow(StreamIntegrityError);
    const swapped = parts.map((part) => ({ ...part, part: 1 - part.part })).reverse();
    await expect(read(swapped)).rejects.toThrow(StreamIntegrityError);
    chunks.delete('0/1');
    await expect(read()).rejects.toThrow(StreamIntegrityError);
  });
});
