import { once } from 'node:events';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { createChunkSealer } from '../../crypto/stream-cipher.ts';

/** A file of the archive: JSON built in memory, or content streamed (an attachment) of a known size. */
export type ArchiveEntry =
  { path: string; content: Buffer } | { path: string; size: number; stream: () => AsyncIterable<Buffer> };

/** Sealed chunks handed over while a part is written, numbered from `firstIndex`. */
export type ChunkBatch = { firstIndex: number; chunks: Buffer[] };

/** What writing a part produced; `tail` is the last batch, for the caller to store with its checkpoint. */
export interface WrittenPart {
  header: Buffer;
  chunkCount: number;
  /** Plaintext bytes (of the gzip member). */
  plainSize: number;
  tail: ChunkBatch;
}

/** Sealed chunks passed to `flush` at a time while a part streams (512 KiB at 64 KiB chunks). */
const CHUNKS_PER_FLUSH = 8;
/** A tar archive ends in two 512-byte blocks of zeros. */
const TAR_END_BYTES = 1024;

/**
 * Holds back a tar stream's end-of-archive blocks: every part but the last is cut there, so the parts'
 * concatenation is one tar archive. Checks that what it drops is exactly those zeros.
 */
class WithoutTarEnd extends Transform {
  #tail = Buffer.alloc(0);

  override _transform(piece: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const all = this.#tail.length === 0 ? piece : Buffer.concat([this.#tail, piece]);
    const keep = all.length - TAR_END_BYTES;
    if (keep > 0) this.push(all.subarray(0, keep));
    this.#tail = Buffer.from(all.subarray(Math.max(0, keep)));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const ended = this.#tail.length === TAR_END_BYTES && this.#tail.every((byte) => byte === 0);
    callback(ended ? null : new Error('the tar stream did not end in its end-of-archive blocks'));
  }
}

/** Rejects once `signal` aborts: a wait on the tar stream must end when the other side of the pipe failed. */
function whenAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    const fail = () => {
      reject(signal.reason as Error);
    };
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

async function addEntry(pack: tar.Pack, entry: ArchiveEntry, mtime: Date, signal: AbortSignal) {
  const header = { name: entry.path, mode: 0o644, mtime, type: 'file' as const };
  const aborted = whenAborted(signal);
  aborted.catch(() => undefined);
  let settle: (error?: Error | null) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => {
      if (error) reject(error);
      else resolve();
    };
  });
  // When the content fails first, this rejects too with nobody awaiting it: the content's error is thrown.
  done.catch(() => undefined);
  if ('content' in entry) {
    pack.entry({ ...header, size: entry.content.length }, entry.content, settle);
    await Promise.race([done, aborted]);
    return;
  }
  const sink = pack.entry({ ...header, size: entry.size }, settle);
  // Its failure (a size mismatch) also reaches `settle`; unlistened, the event would be an uncaught error.
  sink.on('error', () => undefined);
  try {
    for await (const piece of entry.stream()) {
      if (!sink.write(piece)) await once(sink, 'drain', { signal });
    }
    sink.end(null);
  } catch (error) {
    sink.destroy(error as Error);
    throw error;
  }
  await Promise.race([done, aborted]);
}

/**
 * Writes one part of an export archive: `entries` as tar entries, gzip-compressed as one gzip member, sealed
 * with the stream cipher under `key` and `context`. Every part but the `last` leaves out the tar
 * end-of-archive, so the decrypted parts concatenated are one .tar.gz (gzip readers read concatenated members
 * as one stream). Memory holds one entry's in-memory content and a few chunks: full batches go to `flush` as
 * they fill (an attachment of any size streams through), and the last batch is returned in `tail`.
 */
export async function writeArchivePart(options: {
  key: Buffer;
  context: Buffer;
  entries: Iterable<ArchiveEntry> | AsyncIterable<ArchiveEntry>;
  /** Modification time of every entry: the export's time, so a rebuilt part is the same tar. */
  mtime: Date;
  last: boolean;
  flush: (batch: ChunkBatch) => Promise<void>;
}): Promise<WrittenPart> {
  const { key, context, mtime, last, flush } = options;
  const sealer = createChunkSealer(key, context);
  const pending = Buffer.alloc(sealer.chunkSize);
  let pendingLength = 0;
  let index = 0;
  let plainSize = 0;
  let batch: ChunkBatch = { firstIndex: 0, chunks: [] };
  const seal = (isLast: boolean) => {
    batch.chunks.push(sealer.seal(index, isLast, pending.subarray(0, pendingLength)));
    index += 1;
    pendingLength = 0;
  };

  const pack = tar.pack();
  const stop = new AbortController();
  const produce = async () => {
    try {
      for await (const entry of options.entries) await addEntry(pack, entry, mtime, stop.signal);
      pack.finalize();
    } catch (error) {
      pack.destroy(error as Error);
      throw error;
    }
  };
  const consume = pipeline(
    Readable.from(pack),
    last ? new PassThrough() : new WithoutTarEnd(),
    createGzip(),
    async (gzipped: AsyncIterable<Buffer>) => {
      for await (const piece of gzipped) {
        plainSize += piece.length;
        let offset = 0;
        while (offset < piece.length) {
          // A full chunk is sealed only once more bytes prove it is not the last one.
          if (pendingLength === pending.length) {
            seal(false);
            if (batch.chunks.length >= CHUNKS_PER_FLUSH) {
              await flush(batch);
              batch = { firstIndex: index, chunks: [] };
            }
          }
          const copied = piece.copy(pending, pendingLength, offset);
          pendingLength += copied;
          offset += copied;
        }
      }
    },
  ).catch((error: unknown) => {
    // The entries being added wait on this pipe: tell them it is gone.
    stop.abort(error);
    throw error;
  });
  const [produced, consumed] = await Promise.allSettled([produce(), consume]);
  if (produced.status === 'rejected') throw produced.reason;
  if (consumed.status === 'rejected') throw consumed.reason;
  seal(true);
  return { header: sealer.header, chunkCount: index, plainSize, tail: batch };
}
