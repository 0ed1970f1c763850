import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Bytes per page in a page map: the SHA-256 of each page, in page order. */
export const PAGE_HASH_SIZE = 32;
/** Bytes before each page in an incremental backup's page file: the page number (from 1), big-endian. */
export const PAGE_RECORD_HEADER = 4;
/** Pages read from the snapshot at once. */
const PAGES_PER_READ = 256;

/**
 * Reads a database snapshot page by page. While it streams, it builds the page map (the hash of every page)
 * and the SHA-256 of the whole file, both complete once the iteration ends.
 */
export class SnapshotPages {
  readonly pageMap: Buffer;
  readonly #fileHash: Hash = createHash('sha256');
  #fileSha256: string | undefined;

  constructor(
    readonly file: string,
    readonly pageSize: number,
    readonly pageCount: number,
  ) {
    this.pageMap = Buffer.alloc(pageCount * PAGE_HASH_SIZE);
  }

  /** SHA-256 of the whole snapshot; only after `pages()` was read to its end. */
  get fileSha256(): string {
    if (this.#fileSha256 === undefined) throw new Error('the snapshot was not read to its end');
    return this.#fileSha256;
  }

  /** Yields `[pageNumber, page]` (from 1), recording each page's hash. */
  async *pages(): AsyncGenerator<[number, Buffer]> {
    const handle = await open(this.file, 'r');
    try {
      const buffer = Buffer.alloc(this.pageSize * PAGES_PER_READ);
      for (let first = 0; first < this.pageCount; first += PAGES_PER_READ) {
        const count = Math.min(PAGES_PER_READ, this.pageCount - first);
        const { bytesRead } = await handle.read(buffer, 0, count * this.pageSize, first * this.pageSize);
        if (bytesRead !== count * this.pageSize)
          throw new Error('the snapshot is shorter than its page count');
        for (let index = 0; index < count; index += 1) {
          // A copy: the consumer may hold the page past the next read into the shared buffer.
          const page = Buffer.from(buffer.subarray(index * this.pageSize, (index + 1) * this.pageSize));
          this.#fileHash.update(page);
          createHash('sha256')
            .update(page)
            .digest()
            .copy(this.pageMap, (first + index) * PAGE_HASH_SIZE);
          yield [first + index + 1, page];
        }
      }
      this.#fileSha256 = this.#fileHash.digest('hex');
    } finally {
      await handle.close();
    }
  }

  /** Every page, as the whole file (a full backup). */
  async *wholeFile(): AsyncGenerator<Buffer> {
    for await (const [, page] of this.pages()) yield page;
  }

  /**
   * Only the pages whose hash differs from `parentMap` (or that the parent did not have), each as a record
   * `page number u32 | page` (an incremental backup). Counts them in `changed`.
   */
  async *changedPages(parentMap: Buffer, changed: { count: number }): AsyncGenerator<Buffer> {
    const pageHash = Buffer.alloc(PAGE_HASH_SIZE);
    for await (const [pageNumber, page] of this.pages()) {
      const offset = (pageNumber - 1) * PAGE_HASH_SIZE;
      this.pageMap.copy(pageHash, 0, offset, offset + PAGE_HASH_SIZE);
      if (
        offset + PAGE_HASH_SIZE <= parentMap.length &&
        parentMap.subarray(offset, offset + PAGE_HASH_SIZE).equals(pageHash)
      ) {
        continue;
      }
      changed.count += 1;
      const header = Buffer.alloc(PAGE_RECORD_HEADER);
      header.writeUInt32BE(pageNumber, 0);
      yield Buffer.concat([header, page]);
    }
  }
}

/** `source` as an iterable of one buffer (small files: the page map). */
export const once = (source: Buffer): Iterable<Buffer> => [source];
