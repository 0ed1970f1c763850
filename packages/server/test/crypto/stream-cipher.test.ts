/**
 * Streaming encryption of attachments and backups.
 *
 * Attack: whoever holds the stored ciphertext (a compromised object store, a stolen backup disk) edits it —
 * flips bits, swaps, drops or duplicates chunks, cuts the stream short, appends to it, splices in chunks of
 * another stream, or serves one tenant's blob in another's context — hoping the server decrypts something
 * other than what was written. Every such edit must fail with StreamIntegrityError, and no chunk's plaintext
 * may be emitted before that chunk's tag verified. Memory must stay bounded whatever the stream size.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createChunkOpener,
  createChunkSealer,
  createDecryptStream,
  createEncryptStream,
  DEFAULT_CHUNK_SIZE,
  encryptedSize,
  MAX_CHUNK_SIZE,
  STREAM_FORMAT_VERSION,
  STREAM_HEADER_SIZE,
  STREAM_TAG_SIZE,
  StreamIntegrityError,
} from '../../src/crypto/stream-cipher.ts';

const key = randomBytes(32);
const ad = Buffer.from('tenant:7f3a/attachment:42');

interface Run {
  key?: Buffer;
  ad?: Buffer;
  /** Offsets at which the input is cut into separate writes. */
  cuts?: number[];
}

function* pieces(buffer: Buffer, cuts: number[] = []): Generator<Buffer> {
  let start = 0;
  for (const cut of [...cuts.map((c) => c % (buffer.length + 1))].sort((a, b) => a - b)) {
    yield buffer.subarray(start, cut);
    start = cut;
  }
  yield buffer.subarray(start);
}

/**
 * Runs `input` through `transform`. `output` is every buffer the transform pushed, recorded at `push` itself:
 * a failing pipeline discards buffered output, which would hide unverified plaintext from a sink.
 */
async function runThrough(
  transform: Transform,
  input: Buffer,
  cuts?: number[],
): Promise<{ output: Buffer; error: Error | undefined }> {
  const pushed: Buffer[] = [];
  const push = transform.push.bind(transform);
  transform.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (Buffer.isBuffer(chunk)) pushed.push(chunk);
    return push(chunk, encoding);
  };
  try {
    await pipeline(pieces(input, cuts), transform, async (emitted: AsyncIterable<Buffer>) => {
      for await (const piece of emitted) expect(Buffer.isBuffer(piece)).toBe(true);
    });
    return { output: Buffer.concat(pushed), error: undefined };
  } catch (error) {
    return {
      output: Buffer.concat(pushed),
      error: error instanceof Error ? error : new Error(String(error)),
    };
  }
}

async function encrypt(plaintext: Buffer, run: Run & { chunkSize?: number } = {}): Promise<Buffer> {
  const stream = createEncryptStream(run.key ?? key, run.ad ?? ad, { chunkSize: run.chunkSize });
  const { output, error } = await runThrough(stream, plaintext, run.cuts);
  if (error !== undefined) throw error;
  return output;
}

function decryptOutcome(
  ciphertext: Buffer,
  run: Run = {},
): Promise<{ output: Buffer; error: Error | undefined }> {
  return runThrough(createDecryptStream(run.key ?? key, run.ad ?? ad), ciphertext, run.cuts);
}

async function decrypt(ciphertext: Buffer, run: Run = {}): Promise<Buffer> {
  const { output, error } = await decryptOutcome(ciphertext, run);
  if (error !== undefined) throw error;
  return output;
}

/** Decryption fails with StreamIntegrityError, with a message matching `message` if given. */
async function expectRejected(ciphertext: Buffer, message?: RegExp, run: Run = {}): Promise<void> {
  const { error } = await decryptOutcome(ciphertext, run);
  expect(error).toBeInstanceOf(StreamIntegrityError);
  if (message) expect(error?.message).toMatch(message);
}

/** Splits a ciphertext into its header and sealed chunks. */
function parse(ciphertext: Buffer, chunkSize: number): { header: Buffer; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  for (let at = STREAM_HEADER_SIZE; at < ciphertext.length; at += chunkSize + STREAM_TAG_SIZE) {
    chunks.push(ciphertext.subarray(at, at + chunkSize + STREAM_TAG_SIZE));
  }
  return { header: ciphertext.subarray(0, STREAM_HEADER_SIZE), chunks };
}

function flipBit(buffer: Buffer, index: number, bit = 0): Buffer {
  const copy = Buffer.from(buffer);
  copy[index] = (copy[index] ?? 0) ^ (1 << bit);
  return copy;
}

/** Writes `bytes` and returns whatever the transform has emitted so far, without ending it. */
async function writeAndRead(stream: Transform, bytes: Buffer): Promise<Buffer> {
  await new Promise<void>((resolve, reject) => {
    stream.write(bytes, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
  return (stream.read() as Buffer | null) ?? Buffer.alloc(0);
}

/** V8's collector, so heap samples count live bytes rather than garbage not yet collected. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Pushes `total` random bytes from a generator through encrypt and decrypt into a hashing sink, calling
 * `sample` after every MiB received, while every stage is mid-stream.
 */
async function hashedRoundTrip(
  total: number,
  sample: () => void,
): Promise<{ received: number; inputDigest: string; outputDigest: string }> {
  const inputHash = createHash('sha256');
  const outputHash = createHash('sha256');
  function* source(): Generator<Buffer> {
    // Uneven piece sizes so input writes never line up with chunk boundaries.
    for (let sent = 0, i = 0; sent < total; i += 1) {
      const piece = randomBytes(Math.min(total - sent, 40_000 + (i % 7) * 9_973));
      inputHash.update(piece);
      sent += piece.length;
      yield piece;
    }
  }
  let received = 0;
  await pipeline(
    // One piece read ahead, not Readable.from's default sixteen, so the harness adds little to the measure.
    Readable.from(source(), { highWaterMark: 1 }),
    createEncryptStream(key, ad),
    createDecryptStream(key, ad),
    async (output: AsyncIterable<Buffer>) => {
      let nextSample = 0;
      for await (const piece of output) {
        outputHash.update(piece);
        received += piece.length;
        if (received >= nextSample) {
          nextSample += 1024 * 1024;
          sample();
        }
      }
    },
  );
  return { received, inputDigest: inputHash.digest('hex'), outputDigest: outputHash.digest('hex') };
}

// Small chunks make multi-chunk streams cheap to build and tamper with; 53 bytes give chunks of 16, 16, 16, 5.
const small = 16;
const plaintext53 = randomBytes(3 * small + 5);

describe('stream cipher format', () => {
  it('starts with "PLYS", the version, the chunk size and 23 fresh random bytes of salt and nonce prefix', async () => {
    const a = await encrypt(Buffer.from('hello'), { chunkSize: 1000 });
    const b = await encrypt(Buffer.from('hello'), { chunkSize: 1000 });
    expect(a.subarray(0, 4).toString('latin1')).toBe('PLYS');
    expect(a[4]).toBe(STREAM_FORMAT_VERSION);
    expect(a.readUInt32BE(5)).toBe(1000);
    expect(a.subarray(9, STREAM_HEADER_SIZE).equals(b.subarray(9, STREAM_HEADER_SIZE))).toBe(false);
    expect(a.subarray(STREAM_HEADER_SIZE).equals(b.subarray(STREAM_HEADER_SIZE))).toBe(false);
  });

  it('encryptedSize follows header + plaintext + one tag per chunk, with at least one chunk', () => {
    const h = STREAM_HEADER_SIZE;
    const t = STREAM_TAG_SIZE;
    expect(encryptedSize(0)).toBe(h + t);
    expect(encryptedSize(1)).toBe(h + 1 + t);
    expect(encryptedSize(DEFAULT_CHUNK_SIZE)).toBe(h + DEFAULT_CHUNK_SIZE + t);
    expect(encryptedSize(DEFAULT_CHUNK_SIZE + 1)).toBe(h + DEFAULT_CHUNK_SIZE + 1 + 2 * t);
    expect(encryptedSize(53, small)).toBe(h + 53 + 4 * t);
    expect(encryptedSize(2 ** 40)).toBe(h + 2 ** 40 + 2 ** 24 * t);
  });

  it('refuses impossible sizes, keys that are not 32 bytes and out-of-range chunk sizes', () => {
    expect(() => encryptedSize(-1)).toThrow(RangeError);
    expect(() => encryptedSize(1.5)).toThrow(RangeError);
    expect(() => encryptedSize(10, 0)).toThrow(RangeError);
    expect(() => createEncryptStream(randomBytes(16), ad)).toThrow(RangeError);
    expect(() => createDecryptStream(randomBytes(31), ad)).toThrow(RangeError);
    expect(() => createEncryptStream(key, ad, { chunkSize: 0 })).toThrow(RangeError);
    expect(() => createEncryptStream(key, ad, { chunkSize: MAX_CHUNK_SIZE + 1 })).toThrow(RangeError);
  });
});

describe('round trips', () => {
  const sizes = [
    0,
    1,
    DEFAULT_CHUNK_SIZE - 1,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CHUNK_SIZE + 1,
    3 * DEFAULT_CHUNK_SIZE,
  ];

  it.each(sizes)('round-trips %i bytes at the default chunk size, at exactly encryptedSize', async (size) => {
    const plaintext = randomBytes(size);
    const ciphertext = await encrypt(plaintext);
    expect(ciphertext.length).toBe(encryptedSize(size));
    expect((await decrypt(ciphertext)).equals(plaintext)).toBe(true);
  });

  it('streams ~20 MB through pipeline with live memory growing by no more than a few chunks', async () => {
    const gc = exposeGc();
    // A first small run compiles and caches everything, so the measured run starts from a settled heap.
    await hashedRoundTrip(2 * 1024 * 1024, gc);
    gc();
    gc();
    const before = process.memoryUsage();
    let peakBuffers = 0;
    let peakHeap = 0;
    const result = await hashedRoundTrip(20 * 1024 * 1024, () => {
      gc();
      gc(); // the second pass frees Buffer backing stores the first one only detached
      const now = process.memoryUsage();
      peakBuffers = Math.max(peakBuffers, now.arrayBuffers - before.arrayBuffers);
      peakHeap = Math.max(peakHeap, now.heapUsed - before.heapUsed);
    });
    expect(result.received).toBe(20 * 1024 * 1024);
    expect(result.outputDigest).toBe(result.inputDigest);
    // Whole-stream buffering anywhere would show as ~20 MB. Stream bytes live in Buffer backing stores, where
    // the encryptor's pending chunk, the decryptor's sealed chunk and the pieces in flight add up to ~3.5
    // chunks; the JS heap only holds small objects, but its collector bookkeeping wanders by a few hundred KB.
    expect(peakBuffers).toBeLessThan(6 * DEFAULT_CHUNK_SIZE);
    expect(peakHeap).toBeLessThan(16 * DEFAULT_CHUNK_SIZE);
  });

  it('round-trips any plaintext at any chunk size, however input and ciphertext writes are cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 700 }),
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (bytes, chunkSize, plainCuts, cipherCuts) => {
          const plaintext = Buffer.from(bytes);
          const ciphertext = await encrypt(plaintext, { chunkSize, cuts: plainCuts });
          expect(ciphertext.length).toBe(encryptedSize(plaintext.length, chunkSize));
          expect((await decrypt(ciphertext, { cuts: cipherCuts })).equals(plaintext)).toBe(true);
        },
      ),
    );
  });
});

describe('streaming behaviour', () => {
  it('encryption emits each chunk as soon as later input shows it is not the last', async () => {
    const stream = createEncryptStream(key, ad, { chunkSize: small });
    // 40 bytes: chunks 0 and 1 are complete and followed by more input; 8 bytes wait for more or the end.
    const early = await writeAndRead(stream, plaintext53.subarray(0, 40));
    expect(early.length).toBe(STREAM_HEADER_SIZE + 2 * (small + STREAM_TAG_SIZE));
    const { output: rest } = await runThrough(stream, plaintext53.subarray(40));
    expect((await decrypt(Buffer.concat([early, rest]))).equals(plaintext53)).toBe(true);
  });

  it('decryption emits a verified chunk before the stream ends but holds back the chunk not yet known complete', async () => {
    const ciphertext = await encrypt(plaintext53, { chunkSize: small });
    const stream = createDecryptStream(key, ad);
    const sealed = small + STREAM_TAG_SIZE;
    // Header and chunks 0 and 1 in full: chunk 1 might still be the last, so only chunk 0 may come out.
    const first = await writeAndRead(stream, ciphertext.subarray(0, STREAM_HEADER_SIZE + 2 * sealed));
    expect(first.equals(plaintext53.subarray(0, small))).toBe(true);
    const second = await writeAndRead(stream, ciphertext.subarray(STREAM_HEADER_SIZE + 2 * sealed, -1));
    expect(second.equals(plaintext53.subarray(small, 3 * small))).toBe(true);
    const { output, error } = await runThrough(stream, ciphertext.subarray(-1));
    expect(error).toBeUndefined();
    expect(output.equals(plaintext53.subarray(3 * small))).toBe(true);
  });

  it('never emits the plaintext of a chunk whose tag fails, in the body or in the tag', async () => {
    const ciphertext = await encrypt(plaintext53, { chunkSize: small });
    const chunk1 = STREAM_HEADER_SIZE + small + STREAM_TAG_SIZE;
    for (const index of [chunk1 + 3, chunk1 + small + 3]) {
      const { output, error } = await decryptOutcome(flipBit(ciphertext, index));
      expect(error).toBeInstanceOf(StreamIntegrityError);
      expect(error?.message).toBe('chunk 1 failed authentication');
      expect(output.equals(plaintext53.subarray(0, small))).toBe(true);
    }
    const single = await encrypt(Buffer.from('secret'), { chunkSize: small });
    const { output } = await decryptOutcome(flipBit(single, STREAM_HEADER_SIZE));
    expect(output.length).toBe(0);
  });
});

describe('tampering is rejected', () => {
  it('a flipped bit at any position, header included', async () => {
    const ciphertext = await encrypt(plaintext53, { chunkSize: small });
    for (let index = 0; index < ciphertext.length; index += 1) {
      await expectRejected(flipBit(ciphertext, index, index % 8));
    }
  });

  it('swapped, reordered, dropped and duplicated chunks', async () => {
    const { header, chunks } = parse(await encrypt(plaintext53, { chunkSize: small }), small);
    const [c0, c1, c2, c3] = chunks as [Buffer, Buffer, Buffer, Buffer];
    await expectRejected(Buffer.concat([header, c1, c0, c2, c3]), /^chunk 0 failed authentication$/);
    await expectRejected(Buffer.concat([header, c0, c2, c1, c3]), /^chunk 1 failed authentication$/);
    await expectRejected(Buffer.concat([header, c0, c1, c3, c2]), /chunk 2 failed authentication/);
    await expectRejected(Buffer.concat([header, c0, c2, c3]), /chunk 1 failed authentication/);
    await expectRejected(Buffer.concat([header, c0, c0, c1, c2, c3]), /chunk 1 failed authentication/);
  });

  it('a chunk spliced in from another stream under the same key, at the same position', async () => {
    const a = parse(await encrypt(plaintext53, { chunkSize: small }), small);
    const b = parse(await encrypt(plaintext53, { chunkSize: small }), small);
    const spliced = [...a.chunks];
    spliced[1] = b.chunks[1] ?? Buffer.alloc(0);
    await expectRejected(Buffer.concat([a.header, ...spliced]), /^chunk 1 failed authentication$/);
  });

  it('truncation: final chunk missing, cut mid-chunk, cut inside a tag, cut inside the header', async () => {
    const ciphertext = await encrypt(plaintext53, { chunkSize: small });
    const sealed = small + STREAM_TAG_SIZE;
    const boundary = STREAM_HEADER_SIZE + 3 * sealed;
    await expectRejected(
      ciphertext.subarray(0, boundary),
      /^stream truncated: final chunk missing after chunk 2$/,
    );
    await expectRejected(ciphertext.subarray(0, STREAM_HEADER_SIZE + sealed), /final chunk missing/);
    await expectRejected(ciphertext.subarray(0, -1), /^chunk 3 failed authentication/);
    await expectRejected(ciphertext.subarray(0, boundary - 5), /^chunk 2 failed authentication/);
    await expectRejected(
      ciphertext.subarray(0, boundary + 4),
      /^stream truncated: chunk 3 is shorter than its tag$/,
    );
    await expectRejected(ciphertext.subarray(0, STREAM_HEADER_SIZE), /^stream truncated: chunk 0 is shorter/);
    await expectRejected(ciphertext.subarray(0, 10), /^stream truncated: incomplete header$/);
    await expectRejected(Buffer.alloc(0), /^stream truncated: incomplete header$/);
  });

  it('data appended after the final chunk, whether the final chunk is short or full', async () => {
    const short = await encrypt(plaintext53, { chunkSize: small });
    await expectRejected(Buffer.concat([short, Buffer.from([0])]), /^chunk 3 failed authentication/);
    await expectRejected(
      Buffer.concat([short, randomBytes(small + STREAM_TAG_SIZE)]),
      /failed authentication/,
    );
    const full = await encrypt(plaintext53.subarray(0, 2 * small), { chunkSize: small });
    await expectRejected(Buffer.concat([full, Buffer.from([0])]), /^unexpected data after final chunk 1$/);
    const { chunks } = parse(full, small);
    await expectRejected(Buffer.concat([full, chunks[1] ?? Buffer.alloc(0)]), /after final chunk 1/);
  });

  it('an empty plaintext is one authenticated empty chunk that cannot be removed or forged', async () => {
    const ciphertext = await encrypt(Buffer.alloc(0));
    expect(ciphertext.length).toBe(STREAM_HEADER_SIZE + STREAM_TAG_SIZE);
    expect((await decrypt(ciphertext)).length).toBe(0);
    await expectRejected(ciphertext.subarray(0, STREAM_HEADER_SIZE), /stream truncated/);
    await expectRejected(flipBit(ciphertext, ciphertext.length - 1), /^chunk 0 failed authentication/);
    await expectRejected(ciphertext, /^chunk 0 failed authentication/, { ad: Buffer.from('other') });
  });

  it('a different key or different associated data (another tenant or attachment)', async () => {
    const ciphertext = await encrypt(plaintext53, { chunkSize: small });
    await expectRejected(ciphertext, /^chunk 0 failed authentication$/, { key: randomBytes(32) });
    await expectRejected(ciphertext, /^chunk 0 failed authentication$/, {
      ad: Buffer.from('tenant:7f3a/attachment:43'),
    });
    await expectRejected(ciphertext, /^chunk 0 failed authentication$/, { ad: Buffer.alloc(0) });
    expect((await decrypt(ciphertext)).equals(plaintext53)).toBe(true);
  });

  it('a foreign magic, an unknown version, an oversized or a rewritten chunk size in the header', async () => {
    const ciphertext = await encrypt(plaintext53, { chunkSize: small });
    await expectRejected(flipBit(ciphertext, 0), /bad magic bytes/);
    await expectRejected(flipBit(ciphertext, 4, 1), /^unsupported stream format version 3$/);
    const huge = Buffer.from(ciphertext);
    huge.writeUInt32BE(MAX_CHUNK_SIZE + 1, 5);
    await expectRejected(huge, /^unsupported chunk size \d+ in stream header$/);
    const resized = Buffer.from(ciphertext);
    resized.writeUInt32BE(2 * small + STREAM_TAG_SIZE, 5); // chunk 0 would then span chunks 0 and 1 exactly
    await expectRejected(resized, /^chunk 0 failed authentication$/);
    // A one-chunk stream decrypts the same under any chunk size it fits in: only the header in the AAD
    // stops an attacker from rewriting the size, which would shift boundaries once more data is spliced in.
    const single = await encrypt(Buffer.from('hello'), { chunkSize: small });
    const rewritten = Buffer.from(single);
    rewritten.writeUInt32BE(small + 1, 5);
    await expectRejected(rewritten, /^chunk 0 failed authentication/);
  });

  it('any single-byte change, any truncation and any appended bytes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 1, max: 48 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.uint8Array({ minLength: 1, maxLength: 80 }),
        async (bytes, chunkSize, position, xor, extra) => {
          const ciphertext = await encrypt(Buffer.from(bytes), { chunkSize });
          const mutated = Buffer.from(ciphertext);
          const index = position % mutated.length;
          mutated[index] = (mutated[index] ?? 0) ^ xor;
          await expectRejected(mutated);
          await expectRejected(ciphertext.subarray(0, position % ciphertext.length));
          await expectRejected(Buffer.concat([ciphertext, extra]));
        },
      ),
    );
  });
});

describe('chunk by chunk (database rows) and random access', () => {
  const chunkSize = 1000;

  it('chunks sealed one by one, concatenated after the header, are a stream the stream decryptor opens', async () => {
    const plaintext = randomBytes(3 * chunkSize + 123);
    const sealer = createChunkSealer(key, ad, { chunkSize });
    const sealed = [0, 1, 2, 3].map((index) =>
      sealer.seal(index, index === 3, plaintext.subarray(index * chunkSize, (index + 1) * chunkSize)),
    );
    const ciphertext = Buffer.concat([sealer.header, ...sealed]);
    expect(ciphertext.length).toBe(encryptedSize(plaintext.length, chunkSize));
    expect((await decrypt(ciphertext)).equals(plaintext)).toBe(true);
  });

  it('opens any single chunk of a stream-encrypted ciphertext without the chunks before it', async () => {
    const plaintext = randomBytes(5 * chunkSize + 7);
    const { header, chunks } = parse(await encrypt(plaintext, { chunkSize }), chunkSize);
    const opener = createChunkOpener(key, ad, header);
    expect(opener.sealedChunkSize).toBe(chunkSize + STREAM_TAG_SIZE);
    for (const index of [4, 0, 5, 2]) {
      const chunk = chunks[index] ?? Buffer.alloc(0);
      const opened = opener.open(index, index === chunks.length - 1, chunk);
      expect(opened.equals(plaintext.subarray(index * chunkSize, (index + 1) * chunkSize))).toBe(true);
    }
  });

  it('refuses a tampered chunk, a chunk at another index, a wrong last flag, another stream’s chunk or context', async () => {
    const plaintext = randomBytes(3 * chunkSize);
    const { header, chunks } = parse(await encrypt(plaintext, { chunkSize }), chunkSize);
    const other = parse(await encrypt(plaintext, { chunkSize }), chunkSize);
    const [first = Buffer.alloc(0), second = Buffer.alloc(0), last = Buffer.alloc(0)] = chunks;
    const opener = createChunkOpener(key, ad, header);
    const refused = (open: () => Buffer) => {
      expect(open).toThrow(StreamIntegrityError);
    };
    refused(() => opener.open(1, false, flipBit(second, 17)));
    refused(() => opener.open(1, false, flipBit(second, second.length - 1)));
    refused(() => opener.open(0, false, second));
    refused(() => opener.open(2, false, last));
    refused(() => opener.open(1, true, second));
    refused(() => opener.open(1, false, other.chunks[1] ?? Buffer.alloc(0)));
    refused(() =>
      createChunkOpener(key, Buffer.from('tenant:other/attachment:42'), header).open(0, false, first),
    );
    refused(() => createChunkOpener(randomBytes(32), ad, header).open(0, false, first));
    refused(() => opener.open(0, false, first.subarray(0, first.length - 1)));
    expect(() => createChunkOpener(key, ad, flipBit(header, 0))).toThrow(/magic/);
    expect(() => createChunkOpener(key, ad, header.subarray(1))).toThrow(StreamIntegrityError);
  });

  it('the sealer refuses a middle chunk that is not exactly one chunk long', () => {
    const sealer = createChunkSealer(key, ad, { chunkSize });
    expect(() => sealer.seal(0, false, randomBytes(chunkSize - 1))).toThrow(RangeError);
    expect(() => sealer.seal(0, true, randomBytes(chunkSize + 1))).toThrow(RangeError);
    expect(() => sealer.seal(-1, true, randomBytes(1))).toThrow(RangeError);
    expect(sealer.seal(0, true, Buffer.alloc(0)).length).toBe(STREAM_TAG_SIZE);
  });
});
