/**
 * Attack: one WebSocket frame that breaks RFC 6455 — too large, invalid UTF-8, unmasked, a reserved opcode,
 * RSV bits, a bad control frame, a stray continuation, a bad close code — sent before signing in or by a
 * signed-in user, to stop the whole server. The `ws` receiver reports each as an 'error' event; with no
 * listener that event is an uncaught exception, which ends the process and every other user's session.
 * Each frame must close only its own socket, with the close code RFC 6455 names for it (1002 protocol
 * error, 1007 invalid payload, 1009 too big), while another signed-in client is still served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { closePayload, encodeFrame, opcodes, type RawFrame, RawWebSocket } from '../support/raw-websocket.ts';
import { type Bystanders, startBystanders } from '../support/realtime-bystanders.ts';

const MAX_FRAME_BYTES = 4096;
const text = (value: string, more: Partial<RawFrame> = {}): RawFrame => ({
  opcode: opcodes.text,
  payload: Buffer.from(value),
  ...more,
});
const ping = JSON.stringify({ type: 'ping' });
/** Valid JSON, valid UTF-8, a real frame type: only its size is wrong. */
const largeSend = JSON.stringify({ type: 'ping', padding: 'x'.repeat(MAX_FRAME_BYTES) });

interface FrameAttack {
  name: string;
  frames: RawFrame[];
  closeCode: 1002 | 1007 | 1009;
}

const attacks: FrameAttack[] = [
  {
    name: 'a text frame announcing more than the frame limit',
    frames: [text(ping, { announcedLength: 1_000_000n })],
    closeCode: 1009,
  },
  {
    name: 'a frame announcing a 63-bit length',
    frames: [text(ping, { announcedLength: 2n ** 63n - 1n })],
    closeCode: 1009,
  },
  { name: 'a well-formed JSON text frame over the limit', frames: [text(largeSend)], closeCode: 1009 },
  {
    name: 'fragments that together pass the limit',
    frames: [
      text('"' + 'x'.repeat(MAX_FRAME_BYTES - 100), { fin: false }),
      { opcode: opcodes.continuation, payload: Buffer.from('y'.repeat(200) + '"') },
    ],
    closeCode: 1009,
  },
  {
    name: 'invalid UTF-8 in a text frame',
    frames: [{ opcode: opcodes.text, payload: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) }],
    closeCode: 1007,
  },
  {
    name: 'invalid UTF-8 split across fragments',
    frames: [
      { opcode: opcodes.text, fin: false, payload: Buffer.from([0x22, 0xe2, 0x82]) },
      { opcode: opcodes.continuation, payload: Buffer.from([0x41, 0x22]) },
    ],
    closeCode: 1007,
  },
  { name: 'an unmasked client frame', frames: [text(ping, { masked: false })], closeCode: 1002 },
  {
    name: 'a reserved data opcode (0x3)',
    frames: [{ opcode: 0x3, payload: Buffer.from('x') }],
    closeCode: 1002,
  },
  { name: 'a reserved control opcode (0xB)', frames: [{ opcode: 0xb }], closeCode: 1002 },
  { name: 'RSV1 without a negotiated extension', frames: [text(ping, { rsv: 4 })], closeCode: 1002 },
  { name: 'RSV2 and RSV3 set', frames: [text(ping, { rsv: 3 })], closeCode: 1002 },
  {
    name: 'a ping over 125 bytes',
    frames: [{ opcode: opcodes.ping, payload: Buffer.alloc(126, 1) }],
    closeCode: 1002,
  },
  { name: 'a fragmented ping', frames: [{ opcode: opcodes.ping, fin: false }], closeCode: 1002 },
  {
    name: 'a continuation frame first',
    frames: [{ opcode: opcodes.continuation, payload: Buffer.from(ping) }],
    closeCode: 1002,
  },
  {
    name: 'a new text frame inside a fragmented message',
    frames: [text('{"type":', { fin: false }), text(ping)],
    closeCode: 1002,
  },
  {
    name: 'a close frame with a reserved code (1005)',
    frames: [{ opcode: opcodes.close, payload: closePayload(1005) }],
    closeCode: 1002,
  },
  {
    name: 'a close frame with a code below the range (999)',
    frames: [{ opcode: opcodes.close, payload: closePayload(999) }],
    closeCode: 1002,
  },
  {
    name: 'a close frame with a one-byte body',
    frames: [{ opcode: opcodes.close, payload: Buffer.from([0x03]) }],
    closeCode: 1002,
  },
  {
    name: 'invalid UTF-8 in a close reason',
    frames: [{ opcode: opcodes.close, payload: closePayload(1000, Buffer.from([0xff, 0xfe])) }],
    closeCode: 1007,
  },
];

describeEachDialect('one bad WebSocket frame closes only its socket', (dialect) => {
  let bystanders: Bystanders;

  beforeAll(async () => {
    bystanders = await startBystanders(dialect, {
      PARLEY_REALTIME_MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
    });
  });

  afterAll(async () => {
    await bystanders.close();
  });

  async function attacker(signedIn: boolean): Promise<RawWebSocket> {
    const raw = await RawWebSocket.open(bystanders.server);
    if (signedIn) {
      raw.sendJson({ type: 'auth', token: bystanders.member.token });
      await raw.nextText((frame) => frame.includes('"ready"'));
    }
    return raw;
  }

  for (const stage of ['before sign-in', 'signed in'] as const) {
    describe(stage, () => {
      it.each(attacks)('$name: closed with $closeCode, other clients still served', async (attack) => {
        const raw = await attacker(stage === 'signed in');
        raw.write(Buffer.concat(attack.frames.map(encodeFrame)));
        expect(await raw.closeCode).toBe(attack.closeCode);
        // The server ends the TCP connection itself: our client never answers the close frame.
        await raw.ended;
        await bystanders.assertServed();
        expect(bystanders.uncaught).toEqual([]);
      });
    });
  }

  it('a connection reset in the middle of a frame harms no one', async () => {
    for (const signedIn of [false, true]) {
      const raw = await attacker(signedIn);
      // Half a frame: the header promises 100 bytes, 10 arrive, then the TCP connection is reset.
      raw.write(encodeFrame(text('x'.repeat(100))).subarray(0, 16));
      raw.reset();
      await raw.ended;
    }
    // A fresh client completes a whole exchange, by which time the server has read both resets.
    const after = await attacker(true);
    after.sendJson({ type: 'ping' });
    await after.nextText((frame) => frame.includes('"pong"'));
    after.destroy();
    await bystanders.assertServed();
    expect(bystanders.uncaught).toEqual([]);
  });

  it('a non-object JSON frame is malformed_frame, and enough of them close the socket with 4029', async () => {
    const raw = await attacker(true);
    const values = ['null', '42', '"a string"', '[]', '[{"type":"ping"}]', 'true'];
    for (const value of values) {
      raw.send(text(value));
      const answer = JSON.parse(await raw.nextText((frame) => frame.includes('"error"'))) as Record<
        string,
        unknown
      >;
      expect(answer).toEqual({ type: 'error', code: 'malformed_frame', message: expect.any(String) });
    }
    // The abuse limit is 20 bad frames: the rest of them end the socket.
    for (let n = values.length; n < 20; n += 1) raw.send(text('null'));
    expect(await raw.closeCode).toBe(4029);
    await raw.ended;
    await bystanders.assertServed();
    expect(bystanders.uncaught).toEqual([]);
    expect(bystanders.server.logs.text()).not.toContain('realtime frame failed');
  });
});
