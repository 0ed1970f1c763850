import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { AttachmentBody } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import {
  type ChunkOpener,
  createChunkOpener,
  createChunkSealer,
  STREAM_KEY_SIZE,
  StreamIntegrityError,
} from '../crypto/stream-cipher.ts';
import { newId } from '../ids.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import { type AttachmentRow, attachmentStore, type ChunkRow } from './attachment-store.ts';
import { ContentSniffer, OPAQUE_TYPE } from './content-sniffer.ts';

/** Sealed chunks written per transaction (512 KiB at 64 KiB chunks), and read per query when downloading. */
const CHUNKS_PER_BATCH = 8;

export interface UploadInput {
  name: string;
  /** The request's Content-Type: kept for reference, never served. */
  declaredType: string | undefined;
  /** The request's Content-Length, when it sent one: refused at once if over the limit. */
  declaredLength: number | undefined;
  /** The raw bytes; an error thrown from it (a cut connection) abandons the upload. */
  content: AsyncIterable<Buffer>;
}

/** A readable attachment: its metadata and a way to stream any byte range of it, decrypted. */
export interface OpenedAttachment extends AttachmentBody {
  /** Strong validator: attachments never change once complete. */
  etag: string;
  /**
   * Plaintext bytes `start` to `end` (inclusive), decrypting only the chunks they touch, each checked before
   * any of its bytes is emitted. A tampered or missing chunk errors the stream (the response must be aborted).
   */
  read(start: number, end: number): Readable;
}

/** Where an attachment's sealed fields live; bound into their ciphertexts. */
export const attachmentLocation = (tenantId: string, id: string, column: 'name' | 'content_key') => ({
  tenantId,
  table: 'attachments',
  column,
  rowId: id,
});

/** The stream cipher's associated data: the content opens only as this attachment of this tenant. */
const streamContext = (tenantId: string, id: string) =>
  Buffer.from(`parley/v1/attachment/${tenantId}/${id}`, 'utf8');

const tooLarge = (limit: number) =>
  new AppError(
    'attachment_too_large',
    `The attachment is larger than this tenant’s limit of ${limit} bytes.`,
  );

/**
 * Uploads, downloads and removal of attachments. Content is encrypted with a fresh key per attachment (STREAM, 64 KiB
 * chunks, one database row each); the key is sealed with the tenant key. Uploads stream: at most one chunk
 * batch is in memory, each batch is written in its own short transaction (never one held open while the
 * client sends), and the attachment becomes `complete`, and so shareable, only after its last byte.
 */
export function createAttachmentService(deps: {
  storage: Storage;
  fieldCipher: FieldCipher;
  clock: Clock;
  /** The tenant's messaging limits (`maxAttachmentBytes`), read inside the caller's transaction. */
  limits: (tx: TenantTx, tenantId: string) => Promise<{ maxAttachmentBytes: number }>;
}) {
  const { storage, fieldCipher, clock, limits } = deps;

  async function present(tx: TenantTx, row: AttachmentRow): Promise<AttachmentBody> {
    const name = await fieldCipher.open(tx, attachmentLocation(row.tenant_id, row.id, 'name'), row.name);
    return { id: row.id, name, contentType: row.content_type, size: row.size };
  }

  /** Records the upload as `uploading`, after checking a declared length; returns the tenant's limit. */
  async function begin(tenantId: string, uploaderId: string, id: string, key: Buffer, input: UploadInput) {
    return storage.withTenant(tenantId, async (tx) => {
      const { maxAttachmentBytes } = await limits(tx, tenantId);
      if (input.declaredLength !== undefined && input.declaredLength > maxAttachmentBytes)
        throw tooLarge(maxAttachmentBytes);
      await attachmentStore.insert(tx, {
        id,
        tenant_id: tenantId,
        uploader_id: uploaderId,
        status: 'uploading',
        name: await fieldCipher.sealForTenant(tx, attachmentLocation(tenantId, id, 'name'), input.name),
        declared_type: input.declaredType?.slice(0, 255) ?? null,
        content_type: OPAQUE_TYPE,
        size: 0,
        content_key: await fieldCipher.sealForTenant(
          tx,
          attachmentLocation(tenantId, id, 'content_key'),
          key.toString('base64'),
        ),
        stream_header: '',
        chunk_count: 0,
        created_at: clock.now(),
        completed_at: null,
      });
      return maxAttachmentBytes;
    });
  }

  /** Streams `input.content` into sealed chunk rows; returns the plaintext size, chunk count and type. */
  async function storeContent(
    tenantId: string,
    id: string,
    key: Buffer,
    limit: number,
    content: AsyncIterable<Buffer>,
  ): Promise<{ size: number; chunkCount: number; contentType: string; header: Buffer }> {
    const sealer = createChunkSealer(key, streamContext(tenantId, id));
    const sniffer = new ContentSniffer();
    const pending = Buffer.alloc(sealer.chunkSize);
    let pendingLength = 0;
    let index = 0;
    let size = 0;
    let batch: ChunkRow[] = [];
    const seal = (last: boolean) => {
      batch.push({
        tenant_id: tenantId,
        attachment_id: id,
        idx: index,
        data: sealer.seal(index, last, pending.subarray(0, pendingLength)),
      });
      index += 1;
      pendingLength = 0;
    };
    const flush = async () => {
      const rows = batch;
      batch = [];
      await storage.withTenant(tenantId, (tx) => attachmentStore.insertChunks(tx, rows));
    };
    for await (const piece of content) {
      size += piece.length;
      if (size > limit) throw tooLarge(limit);
      sniffer.update(piece);
      let offset = 0;
      while (offset < piece.length) {
        // A full chunk is sealed only once more bytes prove it is not the last one.
        if (pendingLength === pending.length) {
          seal(false);
          if (batch.length >= CHUNKS_PER_BATCH) await flush();
        }
        const copied = piece.copy(pending, pendingLength, offset);
        pendingLength += copied;
        offset += copied;
      }
    }
    seal(true);
    await flush();
    return { size, chunkCount: index, contentType: await sniffer.result(), header: sealer.header };
  }

  /** The attachment if the caller may read it: its uploader, or a member who can see a message sharing it. */
  async function readable(tx: TenantTx, tenantId: string, userId: string, id: string) {
    const row = await attachmentStore.find(tx, tenantId, id);
    if (row?.status !== 'complete') return undefined;
    if (row.uploader_id === userId) return row;
    return (await attachmentStore.visibleTo(tx, tenantId, id, userId)) ? row : undefined;
  }

  function chunkReader(row: AttachmentRow, opener: ChunkOpener, start: number, end: number): Readable {
    const { chunkSize } = opener;
    const first = Math.floor(start / chunkSize);
    const last = Math.floor(end / chunkSize);
    async function* plaintext(): AsyncGenerator<Buffer> {
      for (let from = first; from <= last; from += CHUNKS_PER_BATCH) {
        const to = Math.min(from + CHUNKS_PER_BATCH - 1, last);
        // One short transaction per batch: a slow client never holds a transaction open.
        const rows = await storage.withTenant(row.tenant_id, (tx) =>
          attachmentStore.chunks(tx, row.tenant_id, row.id, from, to),
        );
        for (let index = from; index <= to; index += 1) {
          const chunk = rows[index - from];
          if (chunk?.idx !== index) throw new StreamIntegrityError(`chunk ${index} is missing`);
          const bytes = opener.open(index, index === row.chunk_count - 1, chunk.data);
          const offset = index * chunkSize;
          yield bytes.subarray(Math.max(0, start - offset), Math.min(bytes.length, end + 1 - offset));
        }
      }
    }
    return Readable.from(plaintext(), { objectMode: false });
  }

  return {
    /** Stores an upload; throws `attachment_too_large` the moment it passes the tenant's limit. */
    async upload(tenantId: string, uploaderId: string, input: UploadInput): Promise<AttachmentBody> {
      const id = newId();
      const key = randomBytes(STREAM_KEY_SIZE);
      const limit = await begin(tenantId, uploaderId, id, key, input);
      try {
        const stored = await storeContent(tenantId, id, key, limit, input.content);
        return await storage.withTenant(tenantId, async (tx) => {
          const changes = {
            status: 'complete' as const,
            content_type: stored.contentType,
            size: stored.size,
            stream_header: stored.header.toString('base64'),
            chunk_count: stored.chunkCount,
            completed_at: clock.now(),
          };
          await attachmentStore.update(tx, tenantId, id, changes);
          return { id, name: input.name, contentType: changes.content_type, size: changes.size };
        });
      } catch (error) {
        // Too large, cut off or failed: nothing of it stays, and it was never complete, so never shareable.
        await storage.withTenant(tenantId, (tx) => attachmentStore.remove(tx, tenantId, id));
        throw error;
      }
    },

    /**
     * The uploader erases their attachment (see `attachmentStore.erase`): every later download and share is
     * `not_found`, and messages that shared it show it as removed. Anyone else, another tenant, an unfinished
     * upload or one already removed: `not_found`, as for an id that never existed.
     */
    async remove(tenantId: string, userId: string, id: string): Promise<void> {
      await storage.withTenant(tenantId, async (tx) => {
        const row = await attachmentStore.lock(tx, tenantId, id, storage.dialect);
        if (row?.status !== 'complete' || row.uploader_id !== userId) throw new AppError('not_found');
        await attachmentStore.erase(tx, tenantId, id);
      });
    },

    /** The attachment for download, or `not_found` for anyone who may not read it (other tenants included). */
    async open(tenantId: string, userId: string, id: string): Promise<OpenedAttachment> {
      return storage.withTenant(tenantId, async (tx) => {
        const row = await readable(tx, tenantId, userId, id);
        if (!row) throw new AppError('not_found');
        const key = Buffer.from(
          await fieldCipher.open(tx, attachmentLocation(tenantId, id, 'content_key'), row.content_key),
          'base64',
        );
        const opener = createChunkOpener(
          key,
          streamContext(tenantId, id),
          Buffer.from(row.stream_header, 'base64'),
        );
        return {
          ...(await present(tx, row)),
          etag: `"${row.id}"`,
          read: (start, end) => chunkReader(row, opener, start, end),
        };
      });
    },
  };
}

export type AttachmentService = ReturnType<typeof createAttachmentService>;
