/**
 * Streaming authenticated encryption for attachments and backups of any size: AES-256-GCM in the STREAM
 * construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015; the layout of Tink's AES-GCM-HKDF streaming AEAD).
 * Neither direction ever holds more than one chunk.
 *
 * Format (all integers big-endian):
 *
 * ```text
 * header   "PLYS" | version u8 (=1) | chunk size u32 | salt (16 random bytes) | nonce prefix (7 random bytes)
 * chunk i  AES-256-GCM(subkey, nonce_i, aad = header || associatedData, up to `chunk size` plaintext bytes)
 *          || 16-byte tag
 * subkey   = HKDF-SHA256(ikm = key, salt = salt, info = "parley stream-cipher v1", 32 bytes)
 * nonce_i  = nonce prefix (7) || i as u32 (4) || 0x01 if chunk i is the last chunk, else 0x00 (1)
 * ```
 *
 * Why each piece:
 * - A fresh subkey per stream (from the random salt) means nonces never repeat across streams under one
 *   long-lived key, so the 2^32-message limit of random 96-bit GCM nonces does not apply to the key.
 * - The counter in the nonce pins each chunk to its position: swapped, dropped or duplicated chunks fail.
 * - The last-chunk flag pins where the stream ends: cutting the stream at a chunk boundary leaves a last
 *   chunk sealed as "not last", and data appended after the real last chunk fails to authenticate.
 * - Every chunk, even the single empty chunk of an empty plaintext, is sealed, so "no data" is authenticated.
 * - The header is in every chunk's AAD, so its chunk size and salt cannot be altered; the caller's
 *   associatedData (e.g. tenant and attachment id) binds the ciphertext to its context.
 *
 * Decryption emits a chunk's plaintext only after that chunk's tag verified, but it emits earlier verified
 * chunks before the stream ends. Truncation and tampering can therefore only be known when the stream ends
 * or errors: callers must treat all output as untrusted until the stream finishes, and discard it when the
 * stream errors (e.g. decrypt to a temporary file and rename it into place only after `pipeline` resolves;
 * never send decrypted bytes onward as they arrive unless the receiver also discards on error).
 *
 * @module
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** First four bytes of every stream, so a wrong or unencrypted file is named as such. */
export const STREAM_MAGIC: Buffer = Buffer.from('PLYS', 'latin1');
export const STREAM_FORMAT_VERSION = 1;
/** Bytes of key the caller supplies (AES-256). */
export const STREAM_KEY_SIZE = 32;
export const STREAM_SALT_SIZE = 16;
export const STREAM_NONCE_PREFIX_SIZE = 7;
/** magic 4 + version 1 + chunk size 4 + salt 16 + nonce prefix 7. */
export const STREAM_HEADER_SIZE = 32;
export const STREAM_TAG_SIZE = 16;
/** Plaintext bytes per chunk unless the encryptor is told otherwise. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
/** Largest chunk a decryptor accepts: the header is unauthenticated until the first tag, so this bounds memory. */
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024;
/** The chunk counter is 32 bits wide; a stream may hold at most this many chunks. */
export const MAX_CHUNK_COUNT = 2 ** 32;

const HKDF_INFO = Buffer.from('parley stream-cipher v1', 'latin1');
const CHUNK_SIZE_OFFSET = 5;
const SALT_OFFSET = 9;
const NONCE_PREFIX_OFFSET = SALT_OFFSET + STREAM_SALT_SIZE;

/**
 * The ciphertext is corrupt, truncated, extended, reordered, or was sealed under another key or other
 * associated data. Chunk numbers in the message count from 0. The message never contains key material.
 */
export class StreamIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamIntegrityError';
  }
}

export interface EncryptStreamOptions {
  /** Plaintext bytes per chunk, 1 to MAX_CHUNK_SIZE; DEFAULT_CHUNK_SIZE when omitted. */
  chunkSize?: number;
}

/**
 * Exact ciphertext length for `plainSize` plaintext bytes, for Content-Length and range arithmetic.
 * A multiple of the chunk size ends in a full final chunk, and an empty plaintext still has one (empty) chunk.
 */
export function encryptedSize(plainSize: number, chunkSize: number = DEFAULT_CHUNK_SIZE): number {
  if (!Number.isSafeInteger(plainSize) || plainSize < 0) {
    throw new RangeError('plainSize must be a non-negative safe integer');
  }
  assertChunkSize(chunkSize);
  const chunks = Math.max(1, Math.ceil(plainSize / chunkSize));
  return STREAM_HEADER_SIZE + plainSize + chunks * STREAM_TAG_SIZE;
}

/** Encrypts a byte stream; see the module comment for the format. A fresh random salt is drawn per stream. */
export function createEncryptStream(
  key: Buffer,
  associatedData: Buffer,
  options: EncryptStreamOptions = {},
): Transform {
  assertKey(key);
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  assertChunkSize(chunkSize);
  return new EncryptTransform(key, associatedData, chunkSize);
}

/**
 * Decrypts a stream made by {@link createEncryptStream}, failing with {@link StreamIntegrityError}.
 * Output of verified chunks flows before the end: discard it all if the stream errors (see module comment).
 */
export function createDecryptStream(key: Buffer, associatedData: Buffer): Transform {
  assertKey(key);
  // Copies: the header, and so the subkey derivation, arrives later; the caller may reuse its buffers.
  return new DecryptTransform(Buffer.from(key), Buffer.from(associatedData));
}

/**
 * Seals a stream chunk by chunk, for storage that keeps chunks apart (one database row per chunk). The output
 * is the same format as {@link createEncryptStream}: `header`, then `seal(0, …)`, `seal(1, …)`, … concatenated
 * is a stream {@link createDecryptStream} opens. The caller must seal chunks in order, every chunk but the last
 * exactly `chunkSize` plaintext bytes, and exactly one chunk (possibly empty) with `last` set.
 */
export interface ChunkSealer {
  readonly header: Buffer;
  readonly chunkSize: number;
  seal(index: number, last: boolean, plaintext: Buffer): Buffer;
}

/** A {@link ChunkSealer} with a fresh random salt and nonce prefix. */
export function createChunkSealer(
  key: Buffer,
  associatedData: Buffer,
  options: EncryptStreamOptions = {},
): ChunkSealer {
  assertKey(key);
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  assertChunkSize(chunkSize);
  const header = newHeader(chunkSize);
  const session = openSession(key, header, Buffer.from(associatedData), chunkSize);
  return {
    header,
    chunkSize,
    seal(index, last, plaintext) {
      assertIndex(index);
      if (plaintext.length > chunkSize || (!last && plaintext.length !== chunkSize)) {
        throw new RangeError('every chunk but the last holds exactly chunkSize bytes');
      }
      return Buffer.concat(sealChunk(session, index, last, plaintext));
    },
  };
}

/**
 * Opens single chunks of a stream, in any order: random access, so a byte range is served by decrypting only
 * the chunks it touches. `sealedChunkSize` (= chunk size + tag) locates chunk i at
 * `STREAM_HEADER_SIZE + i * sealedChunkSize` in the concatenated stream. The caller must know which chunk is
 * the last (from the stored plaintext size): it is sealed differently, so a wrong guess fails authentication
 * rather than hiding a truncation.
 */
export interface ChunkOpener {
  readonly chunkSize: number;
  readonly sealedChunkSize: number;
  /** The verified plaintext of chunk `index`; throws {@link StreamIntegrityError}, never returns unverified bytes. */
  open(index: number, last: boolean, sealed: Buffer): Buffer;
}

/** A {@link ChunkOpener} for the stream that starts with `header`; throws StreamIntegrityError for a bad header. */
export function createChunkOpener(key: Buffer, associatedData: Buffer, header: Buffer): ChunkOpener {
  assertKey(key);
  if (header.length !== STREAM_HEADER_SIZE)
    throw new StreamIntegrityError('stream header has the wrong length');
  const chunkSize = parseHeader(header);
  const session = openSession(key, Buffer.from(header), Buffer.from(associatedData), chunkSize);
  return {
    chunkSize,
    sealedChunkSize: chunkSize + STREAM_TAG_SIZE,
    open(index, last, sealed) {
      assertIndex(index);
      if (sealed.length < STREAM_TAG_SIZE || sealed.length > chunkSize + STREAM_TAG_SIZE) {
        throw new StreamIntegrityError(`chunk ${index} has an impossible length`);
      }
      if (!last && sealed.length !== chunkSize + STREAM_TAG_SIZE) {
        throw new StreamIntegrityError(`chunk ${index} is shorter than a middle chunk`);
      }
      const plaintext = openChunk(session, index, last, sealed);
      if (!plaintext) throw new StreamIntegrityError(describeFailure(session, index, last, sealed));
      return plaintext;
    },
  };
}

/** Everything a chunk seal or open needs, fixed by the header. */
interface StreamSession {
  readonly subkey: Buffer;
  readonly noncePrefix: Buffer;
  readonly aad: Buffer;
  readonly chunkSize: number;
}

function openSession(key: Buffer, header: Buffer, associatedData: Buffer, chunkSize: number): StreamSession {
  const salt = header.subarray(SALT_OFFSET, NONCE_PREFIX_OFFSET);
  return {
    subkey: Buffer.from(hkdfSync('sha256', key, salt, HKDF_INFO, STREAM_KEY_SIZE)),
    noncePrefix: Buffer.from(header.subarray(NONCE_PREFIX_OFFSET, STREAM_HEADER_SIZE)),
    aad: Buffer.concat([header, associatedData]),
    chunkSize,
  };
}

function chunkNonce(session: StreamSession, index: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  session.noncePrefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, STREAM_NONCE_PREFIX_SIZE);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

function sealChunk(session: StreamSession, index: number, last: boolean, plaintext: Buffer): Buffer[] {
  const cipher = createCipheriv('aes-256-gcm', session.subkey, chunkNonce(session, index, last), {
    authTagLength: STREAM_TAG_SIZE,
  });
  cipher.setAAD(session.aad);
  const body = cipher.update(plaintext);
  cipher.final(); // GCM is a stream mode: final() adds no bytes, it computes the tag.
  return [body, cipher.getAuthTag()];
}

/** The plaintext, or undefined when the tag does not verify. Never returns unverified bytes. */
function openChunk(session: StreamSession, index: number, last: boolean, sealed: Buffer): Buffer | undefined {
  const bodyEnd = sealed.length - STREAM_TAG_SIZE;
  const decipher = createDecipheriv('aes-256-gcm', session.subkey, chunkNonce(session, index, last), {
    authTagLength: STREAM_TAG_SIZE,
  });
  decipher.setAAD(session.aad);
  decipher.setAuthTag(sealed.subarray(bodyEnd));
  const plaintext = decipher.update(sealed.subarray(0, bodyEnd));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return plaintext;
}

class EncryptTransform extends Transform {
  readonly #session: StreamSession;
  readonly #header: Buffer;
  readonly #pending: Buffer;
  #pendingLength = 0;
  #index = 0;
  #headerSent = false;

  constructor(key: Buffer, associatedData: Buffer, chunkSize: number) {
    super();
    this.#header = newHeader(chunkSize);
    this.#session = openSession(key, this.#header, associatedData, chunkSize);
    this.#pending = Buffer.alloc(chunkSize);
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#sendHeader();
    let offset = 0;
    while (offset < data.length) {
      // A full chunk is sealed only once more input proves it is not the last one.
      if (this.#pendingLength === this.#pending.length && !this.#seal(false, callback)) return;
      const copied = data.copy(this.#pending, this.#pendingLength, offset);
      this.#pendingLength += copied;
      offset += copied;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#sendHeader();
    if (this.#seal(true, callback)) callback();
  }

  #sendHeader(): void {
    if (this.#headerSent) return;
    this.#headerSent = true;
    this.push(this.#header);
  }

  /** Seals the pending bytes as the next chunk; on counter exhaustion fails the stream and returns false. */
  #seal(last: boolean, callback: TransformCallback): boolean {
    if (this.#index >= MAX_CHUNK_COUNT) {
      callback(new RangeError(`stream exceeds ${MAX_CHUNK_COUNT} chunks; use a larger chunk size`));
      return false;
    }
    const plaintext = this.#pending.subarray(0, this.#pendingLength);
    for (const part of sealChunk(this.#session, this.#index, last, plaintext)) this.push(part);
    this.#index += 1;
    this.#pendingLength = 0;
    return true;
  }
}

class DecryptTransform extends Transform {
  readonly #key: Buffer;
  readonly #associatedData: Buffer;
  readonly #header = Buffer.alloc(STREAM_HEADER_SIZE);
  #headerLength = 0;
  #session: StreamSession | undefined;
  /** One sealed chunk (chunk size + tag), allocated once the header names the chunk size. */
  #sealed = Buffer.alloc(0);
  #sealedLength = 0;
  #index = 0;

  constructor(key: Buffer, associatedData: Buffer) {
    super();
    this.#key = key;
    this.#associatedData = associatedData;
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      let offset = this.#session ? 0 : this.#readHeader(data);
      while (this.#session && offset < data.length) {
        // A full buffer is opened as a middle chunk only once more input proves it is not the last one.
        if (this.#sealedLength === this.#sealed.length) this.#open(false);
        const copied = data.copy(this.#sealed, this.#sealedLength, offset);
        this.#sealedLength += copied;
        offset += copied;
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.#session) throw new StreamIntegrityError('stream truncated: incomplete header');
      this.#open(true);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  /** Consumes header bytes from `data`, returning how many it used; parses the header once complete. */
  #readHeader(data: Buffer): number {
    const copied = data.copy(this.#header, this.#headerLength);
    this.#headerLength += copied;
    if (this.#headerLength < STREAM_HEADER_SIZE) return copied;
    const chunkSize = parseHeader(this.#header);
    this.#session = openSession(this.#key, this.#header, this.#associatedData, chunkSize);
    this.#sealed = Buffer.alloc(chunkSize + STREAM_TAG_SIZE);
    return copied;
  }

  /** Verifies the buffered chunk and only then emits its plaintext. */
  #open(last: boolean): void {
    const session = this.#session;
    const index = this.#index;
    if (!session) throw new StreamIntegrityError('stream truncated: incomplete header');
    if (index >= MAX_CHUNK_COUNT) throw new StreamIntegrityError(`stream exceeds ${MAX_CHUNK_COUNT} chunks`);
    const sealed = this.#sealed.subarray(0, this.#sealedLength);
    if (sealed.length < STREAM_TAG_SIZE) {
      throw new StreamIntegrityError(`stream truncated: chunk ${index} is shorter than its tag`);
    }
    const plaintext = openChunk(session, index, last, sealed);
    if (!plaintext) throw new StreamIntegrityError(describeFailure(session, index, last, sealed));
    this.#index += 1;
    this.#sealedLength = 0;
    this.push(plaintext);
  }
}

/**
 * Names the failure precisely. Retrying with the opposite last-chunk flag is only diagnosis: whatever it
 * decrypts is dropped, and the stream fails either way.
 */
function describeFailure(session: StreamSession, index: number, last: boolean, sealed: Buffer): string {
  if (last && openChunk(session, index, false, sealed)) {
    return `stream truncated: final chunk missing after chunk ${index}`;
  }
  if (!last && openChunk(session, index, true, sealed)) {
    return `unexpected data after final chunk ${index}`;
  }
  return last
    ? `chunk ${index} failed authentication (last chunk: stream corrupted or truncated)`
    : `chunk ${index} failed authentication`;
}

/** A header with a fresh random salt and nonce prefix. */
function newHeader(chunkSize: number): Buffer {
  const header = Buffer.alloc(STREAM_HEADER_SIZE);
  STREAM_MAGIC.copy(header, 0);
  header[4] = STREAM_FORMAT_VERSION;
  header.writeUInt32BE(chunkSize, CHUNK_SIZE_OFFSET);
  randomBytes(STREAM_SALT_SIZE + STREAM_NONCE_PREFIX_SIZE).copy(header, SALT_OFFSET);
  return header;
}

/** Checks magic, version and chunk size of a complete header; returns the chunk size. */
function parseHeader(header: Buffer): number {
  if (!header.subarray(0, STREAM_MAGIC.length).equals(STREAM_MAGIC)) {
    throw new StreamIntegrityError('not a Parley encrypted stream (bad magic bytes)');
  }
  const version = header[4];
  if (version !== STREAM_FORMAT_VERSION) {
    throw new StreamIntegrityError(`unsupported stream format version ${String(version)}`);
  }
  const chunkSize = header.readUInt32BE(CHUNK_SIZE_OFFSET);
  if (chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
    throw new StreamIntegrityError(`unsupported chunk size ${chunkSize} in stream header`);
  }
  return chunkSize;
}

function assertIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_CHUNK_COUNT) {
    throw new RangeError(`chunk index must be an integer from 0 to ${MAX_CHUNK_COUNT - 1}`);
  }
}

function assertKey(key: Buffer): void {
  if (key.length !== STREAM_KEY_SIZE) throw new RangeError(`key must be ${STREAM_KEY_SIZE} bytes`);
}

function assertChunkSize(chunkSize: number): void {
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
    throw new RangeError(`chunk size must be an integer from 1 to ${MAX_CHUNK_SIZE}`);
  }
}
