import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  createDecryptStream,
  createEncryptStream,
  encryptedSize,
} from '../packages/server/src/crypto/stream-cipher.js';

const TOTAL_BYTES = 200_000_000;
const BLOCK = randomBytes(1024 * 1024);

/** Plaintext as 1 MiB views of one random block: the bench never holds the stream itself. */
function plaintext(total = TOTAL_BYTES): Readable {
  function* blocks(): Generator<Buffer> {
    for (let sent = 0; sent < total; sent += BLOCK.length) {
      yield BLOCK.subarray(0, Math.min(BLOCK.length, total - sent));
    }
  }
  return Readable.from(blocks(), { highWaterMark: 2 });
}

/** A sink that only counts, so the measure is the cipher and not the destination. */
function countingSink(): { sink: Writable; bytes: () => number } {
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback();
    },
  });
  return { sink, bytes: () => bytes };
}

async function timed(run: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function assertCount(actual: number, expected: number, what: string): void {
  if (actual !== expected) throw new Error(`${what}: expected ${expected} bytes, got ${actual}`);
}

/**
 * Throughput of the streaming attachment cipher (default 64 KiB chunks) in MB/s (10^6 bytes of plaintext per
 * second), over 200 MB streamed through `pipeline`:
 * - `encryptMBps`: generated plaintext → encrypt → counting sink;
 * - `decryptMBps`: temporary ciphertext file (just written, so in the page cache) → decrypt → counting sink;
 * - `roundTripMBps`: generated plaintext → encrypt → decrypt → counting sink.
 */
export async function runStreamCipherBench(): Promise<Record<string, number>> {
  const key = randomBytes(32);
  const ad = Buffer.from('bench/attachment');
  const dir = await mkdtemp(join(tmpdir(), 'parley-stream-cipher-'));
  const file = join(dir, 'ciphertext.plys');
  try {
    // Untimed warm-up, so the first measure does not pay for JIT compilation.
    await pipeline(
      plaintext(20_000_000),
      createEncryptStream(key, ad),
      createDecryptStream(key, ad),
      countingSink().sink,
    );

    const encrypted = countingSink();
    const encryptSeconds = await timed(() =>
      pipeline(plaintext(), createEncryptStream(key, ad), encrypted.sink),
    );
    assertCount(encrypted.bytes(), encryptedSize(TOTAL_BYTES), 'encrypt');

    await pipeline(plaintext(), createEncryptStream(key, ad), createWriteStream(file));
    const decrypted = countingSink();
    const decryptSeconds = await timed(() =>
      pipeline(
        createReadStream(file, { highWaterMark: 1024 * 1024 }),
        createDecryptStream(key, ad),
        decrypted.sink,
      ),
    );
    assertCount(decrypted.bytes(), TOTAL_BYTES, 'decrypt');

    const roundTrip = countingSink();
    const roundTripSeconds = await timed(() =>
      pipeline(plaintext(), createEncryptStream(key, ad), createDecryptStream(key, ad), roundTrip.sink),
    );
    assertCount(roundTrip.bytes(), TOTAL_BYTES, 'round trip');

    const mbps = (seconds: number): number => Math.round((TOTAL_BYTES / 1e6 / seconds) * 10) / 10;
    return {
      megabytes: TOTAL_BYTES / 1e6,
      encryptMBps: mbps(encryptSeconds),
      decryptMBps: mbps(decryptSeconds),
      roundTripMBps: mbps(roundTripSeconds),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
