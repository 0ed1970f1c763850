/**
 * Attack: arbitrary bytes on the realtime socket, looking for any frame (or run of frames, or cut-off
 * frame) the server does not survive. Hand-built valid frames are mutated bit by bit, and fast-check builds
 * frames from random headers (FIN, RSV bits, any opcode, masked or not, true or lying lengths up to 2^64),
 * payloads (bytes, JSON, real frame types, invalid UTF-8), fragmentation, truncation and odd write splits,
 * sent before signing in and after. Each case runs on its own TLS connection; after each batch another
 * signed-in client must still have a send committed and delivered, and no uncaught exception may have
 * happened (one would end a production server). `PARLEY_FUZZ_RUNS` scales the number of cases.
 */
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { closePayload, encodeFrame, opcodes, type RawFrame, RawWebSocket } from '../support/raw-websocket.ts';
import { type Bystanders, startBystanders } from '../support/realtime-bystanders.ts';

const MAX_FRAME_BYTES = 4096;
/** Cases per dialect; CI runs the default (a few thousand frames per dialect in well under a minute). */
const RUNS = Number(process.env.PARLEY_FUZZ_RUNS ?? 600);
const BATCH = 50;
/** Close codes the server itself chooses; it also echoes a valid code from a client's close frame. */
const serverCloseCodes = new Set([1002, 1005, 1007, 1009, 4001, 4008, 4029]);

/** Frames a real client sends; mutating them reaches deeper into the parser than random bytes do. */
const validFrames: RawFrame[][] = [
  [{ opcode: opcodes.text, payload: Buffer.from('{"type":"ping"}') }],
  [
    { opcode: opcodes.text, fin: false, payload: Buffer.from('{"type":') },
    { opcode: opcodes.ping, payload: Buffer.from('mid') },
    { opcode: opcodes.continuation, payload: Buffer.from('"ping"}') },
  ],
  [{ opcode: opcodes.text, payload: Buffer.from('x'.repeat(300)) }],
  [{ opcode: opcodes.text, payload: Buffer.from('y'.repeat(MAX_FRAME_BYTES)) }],
  [{ opcode: opcodes.binary, payload: Buffer.from([0, 1, 2, 3]) }],
  [{ opcode: opcodes.close, payload: closePayload(1000, 'bye') }],
  [{ opcode: opcodes.pong }],
];

const weighted = <T>(usual: T, other: fc.Arbitrary<T>, weight = 6): fc.Arbitrary<T> =>
  fc.oneof({ weight, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: other });

const payloadArbitrary = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  fc.json().map((text) => Buffer.from(text)),
  fc
    .constantFrom(
      '{"type":"ping"}',
      '{"type":"auth","token":"parley_at_forged"}',
      '{"type":"message.send","id":"f","dialogId":"00000000-0000-7000-8000-000000000000","body":"x"}',
      '{"type":"presence.subscribe","userIds":[]}',
      'null',
      '[]',
    )
    .map((text) => Buffer.from(text)),
  fc.integer({ min: 1000, max: 5000 }).map((code) => closePayload(code)),
  fc
    .uint8Array({ minLength: MAX_FRAME_BYTES - 8, maxLength: MAX_FRAME_BYTES + 8 })
    .map((b) => Buffer.from(b)),
);

const frameArbitrary: fc.Arbitrary<RawFrame> = fc.record({
  fin: weighted(true, fc.constant(false), 4),
  rsv: weighted(0, fc.integer({ min: 1, max: 7 })),
  opcode: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(0x0, 0x1, 0x2, 0x8, 0x9, 0xa) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) },
  ),
  masked: weighted(true, fc.constant(false), 10),
  maskKey: fc.uint8Array({ minLength: 4, maxLength: 4 }).map((bytes) => Buffer.from(bytes)),
  payload: payloadArbitrary,
  announcedLength: fc.option(
    fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.constantFrom(0n, 125n, 126n, 127n, 65_535n, 65_536n, 4096n, 4097n, 2n ** 53n, 2n ** 63n),
    ),
    { freq: 8 },
  ),
});

interface FuzzCase {
  signedIn: boolean;
  frames: RawFrame[];
  /** Bit flips applied to the encoded bytes (hand-built mutations); none for generated frames. */
  flips: { at: number; bit: number }[];
  /** Cut the bytes at this fraction of their length (a truncated frame), when set. */
  cut: number | null;
  /** Sizes of successive writes, so frame boundaries fall anywhere in the server's reads. */
  splits: number[];
}

const generatedCase: fc.Arbitrary<FuzzCase> = fc.record({
  signedIn: fc.boolean(),
  frames: fc.array(frameArbitrary, { minLength: 1, maxLength: 8 }),
  flips: fc.constant([]),
  cut: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 5 }),
  splits: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 5 }),
});

const mutatedCase: fc.Arbitrary<FuzzCase> = fc.record({
  signedIn: fc.boolean(),
  frames: fc
    .array(fc.constantFrom(...validFrames), { minLength: 1, maxLength: 3 })
    .map((runs) => runs.flat()),
  flips: fc.array(fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), {
    minLength: 1,
    maxLength: 4,
  }),
  cut: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 8 }),
  splits: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 5 }),
});

function bytesOf(fuzz: FuzzCase): Buffer {
  // Mutations flip bits in the first bytes of each run (headers, masks, lengths), where parsers break.
  const bytes = Buffer.concat(fuzz.frames.map(encodeFrame));
  for (const { at, bit } of fuzz.flips) {
    const index = at % Math.min(bytes.length, 64);
    bytes[index] = (bytes[index] ?? 0) ^ (1 << bit);
  }
  return fuzz.cut === null ? bytes : bytes.subarray(0, Math.floor(bytes.length * fuzz.cut));
}

/** Close codes the client itself sent in close frames, which the server may echo. */
function sentCloseCodes(fuzz: FuzzCase): Set<number> {
  const codes = new Set<number>();
  for (const frame of fuzz.frames) {
    if (frame.opcode === opcodes.close && frame.payload && frame.payload.length >= 2)
      codes.add(frame.payload.readUInt16BE(0));
  }
  return codes;
}

describeEachDialect('realtime frame fuzzing', (dialect) => {
  let bystanders: Bystanders;
  let framesSent = 0;
  let casesRun = 0;

  beforeAll(async () => {
    bystanders = await startBystanders(dialect, {
      PARLEY_REALTIME_MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
    });
  });

  afterAll(async () => {
    await bystanders.close();
  });

  async function attack(fuzz: FuzzCase): Promise<void> {
    const raw = await RawWebSocket.open(bystanders.server);
    if (fuzz.signedIn) {
      raw.sendJson({ type: 'auth', token: bystanders.member.token });
      await raw.nextText((frame) => frame.includes('"ready"'));
    }
    let bytes = bytesOf(fuzz);
    for (const size of fuzz.splits) {
      raw.write(bytes.subarray(0, size));
      bytes = bytes.subarray(size);
    }
    raw.write(bytes);
    // Our side ends; the server must end the connection too (nothing it waits for can keep it open).
    raw.end();
    await raw.ended;
    framesSent += fuzz.frames.length;
    casesRun += 1;
    const close = raw.frames.find((frame) => frame.opcode === opcodes.close);
    if (close && fuzz.flips.length === 0) {
      const code = close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
      expect(serverCloseCodes.has(code) || sentCloseCodes(fuzz).has(code)).toBe(true);
    }
    expect(bystanders.uncaught).toEqual([]);
  }

  it('survives generated and mutated frames, serving a signed-in client after every batch', async () => {
    const started = performance.now();
    for (let done = 0; done < RUNS; done += BATCH) {
      // Two in three cases are generated frames, one in three mutations of valid ones.
      const arbitrary = fc.oneof(
        { weight: 2, arbitrary: generatedCase },
        { weight: 1, arbitrary: mutatedCase },
      );
      await fc.assert(fc.asyncProperty(arbitrary, attack), { numRuns: Math.min(BATCH, RUNS - done) });
      await bystanders.assertServed();
    }
    expect(casesRun).toBeGreaterThanOrEqual(RUNS);
    expect(bystanders.uncaught).toEqual([]);
    console.info(
      `frame fuzz [${dialect}]: ${String(framesSent)} frames in ${String(casesRun)} connections, ` +
        `${String(Math.round(performance.now() - started))} ms`,
    );
  });
});
