import { Readable } from 'node:stream';
import { createChunkOpener, StreamIntegrityError } from '../../crypto/stream-cipher.ts';

/** Chunks read per query (512 KiB at 64 KiB chunks), each query in its own short transaction. */
const CHUNKS_PER_READ = 8;

/** A stored part of an archive, as the reader needs it. */
export interface StoredPart {
  part: number;
  streamHeader: Buffer;
  chunkCount: number;
}

/**
 * The archive's plaintext (the .tar.gz): its parts decrypted one after the other. Each chunk is verified
 * before any of its bytes is emitted, and a part's chunks are counted against its stored count, so a missing,
 * reordered, swapped or truncated chunk or part errors the stream (the response must then be aborted: the
 * client sees a cut download, never altered bytes).
 */
export function readArchive(options: {
  key: Buffer;
  /** The associated data each part was sealed with. */
  contextOf: (part: number) => Buffer;
  parts: readonly StoredPart[];
  partCount: number;
  chunks: (part: number, from: number, to: number) => Promise<{ idx: number; data: Buffer }[]>;
}): Readable {
  const { key, contextOf, parts, partCount, chunks } = options;
  async function* plaintext(): AsyncGenerator<Buffer> {
    if (parts.length !== partCount || parts.some((part, index) => part.part !== index))
      throw new StreamIntegrityError('the archive is missing a part');
    for (const part of parts) {
      const opener = createChunkOpener(key, contextOf(part.part), part.streamHeader);
      for (let from = 0; from < part.chunkCount; from += CHUNKS_PER_READ) {
        const to = Math.min(from + CHUNKS_PER_READ, part.chunkCount) - 1;
        const rows = await chunks(part.part, from, to);
        for (let index = from; index <= to; index += 1) {
          const row = rows[index - from];
          if (row?.idx !== index)
            throw new StreamIntegrityError(`part ${part.part} is missing chunk ${index}`);
          yield opener.open(index, index === part.chunkCount - 1, row.data);
        }
      }
    }
  }
  return Readable.from(plaintext(), { objectMode: false });
}
