import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';

/**
 * A minimal TURN client over UDP, for tests only: one Allocate with the long-term credential mechanism
 * (RFC 5389 §10.2, RFC 5766 §6), the way a browser's ICE agent does it, and a Refresh with lifetime 0 to
 * release what it got. No npm TURN client is both maintained and small; this is ~200 lines of the RFCs.
 */

const MAGIC_COOKIE = 0x2112a442;
const ALLOCATE_REQUEST = 0x0003;
const ALLOCATE_SUCCESS = 0x0103;
const ALLOCATE_ERROR = 0x0113;
const REFRESH_REQUEST = 0x0004;
const attribute = {
  username: 0x0006,
  messageIntegrity: 0x0008,
  errorCode: 0x0009,
  lifetime: 0x000d,
  realm: 0x0014,
  nonce: 0x0015,
  xorRelayedAddress: 0x0016,
  requestedTransport: 0x0019,
} as const;
const UDP = 17;

interface StunAttribute {
  type: number;
  value: Buffer;
}

interface StunMessage {
  type: number;
  transactionId: Buffer;
  attributes: StunAttribute[];
  /** The raw bytes, for checking MESSAGE-INTEGRITY. */
  raw: Buffer;
}

export type AllocateOutcome =
  | { kind: 'allocated'; relayedAddress: string; lifetime: number; integrityVerified: boolean }
  | { kind: 'refused'; code: number; reason: string };

const padded = (length: number) => Math.ceil(length / 4) * 4;

function encodeAttribute({ type, value }: StunAttribute): Buffer {
  const out = Buffer.alloc(4 + padded(value.length));
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(value.length, 2);
  value.copy(out, 4);
  return out;
}

function header(type: number, bodyLength: number, transactionId: Buffer): Buffer {
  const out = Buffer.alloc(20);
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(bodyLength, 2);
  out.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(out, 8);
  return out;
}

/**
 * Encodes a request; with a key, appends MESSAGE-INTEGRITY: HMAC-SHA1 over the message up to that attribute,
 * with the header's length already counting it (RFC 5389 §15.4).
 */
function encode(type: number, attributes: StunAttribute[], transactionId: Buffer, key?: Buffer): Buffer {
  const body = Buffer.concat(attributes.map(encodeAttribute));
  if (!key) return Buffer.concat([header(type, body.length, transactionId), body]);
  const signed = Buffer.concat([header(type, body.length + 24, transactionId), body]);
  const integrity = createHmac('sha1', key).update(signed).digest();
  return Buffer.concat([signed, encodeAttribute({ type: attribute.messageIntegrity, value: integrity })]);
}

function decode(raw: Buffer): StunMessage | undefined {
  if (raw.length < 20 || raw.readUInt32BE(4) !== MAGIC_COOKIE) return undefined;
  const attributes: StunAttribute[] = [];
  let offset = 20;
  while (offset + 4 <= raw.length) {
    const type = raw.readUInt16BE(offset);
    const length = raw.readUInt16BE(offset + 2);
    attributes.push({ type, value: raw.subarray(offset + 4, offset + 4 + length) });
    offset += 4 + padded(length);
  }
  return { type: raw.readUInt16BE(0), transactionId: raw.subarray(8, 20), attributes, raw };
}

const find = (message: StunMessage, type: number) =>
  message.attributes.find((entry) => entry.type === type)?.value;

/** Checks a response's MESSAGE-INTEGRITY with the same key: proof the server derived the same password. */
function integrityHolds(message: StunMessage, key: Buffer): boolean {
  let offset = 20;
  for (const entry of message.attributes) {
    if (entry.type === attribute.messageIntegrity) {
      const signed = Buffer.from(message.raw.subarray(0, offset));
      signed.writeUInt16BE(offset - 20 + 24, 2);
      const expected = createHmac('sha1', key).update(signed).digest();
      return entry.value.length === 20 && timingSafeEqual(expected, entry.value);
    }
    offset += 4 + padded(entry.value.length);
  }
  return false;
}

function xorAddress(value: Buffer): string {
  const port = value.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16);
  const address = value.readUInt32BE(4) ^ MAGIC_COOKIE;
  return `${[address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255].join('.')}:${String(port)}`;
}

function errorOf(message: StunMessage): { code: number; reason: string } {
  const value = find(message, attribute.errorCode);
  if (!value) return { code: 0, reason: 'no ERROR-CODE' };
  return { code: (value[2] ?? 0) * 100 + (value[3] ?? 0), reason: value.subarray(4).toString('utf8') };
}

/**
 * Sends a request and resolves with the response of the same transaction. UDP may drop datagrams, so the
 * request is retransmitted on RFC 5389's schedule (RTO doubling from 250 ms) until an answer or 7 tries.
 */
async function transact(socket: Socket, port: number, host: string, request: Buffer): Promise<StunMessage> {
  const transactionId = request.subarray(8, 20);
  const controller = new AbortController();
  const answer = (async () => {
    for (;;) {
      const [raw] = (await once(socket, 'message', { signal: controller.signal })) as [Buffer];
      const message = decode(raw);
      if (message?.transactionId.equals(transactionId)) return message;
    }
  })();
  let rto = 250;
  let timer: NodeJS.Timeout | undefined;
  const retransmit = (attempt: number): void => {
    if (attempt === 7) {
      controller.abort(new Error(`no TURN answer from ${host}:${String(port)}`));
      return;
    }
    socket.send(request, port, host);
    timer = setTimeout(() => {
      retransmit(attempt + 1);
    }, rto);
    rto *= 2;
  };
  retransmit(0);
  try {
    return await answer;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** The long-term credential key: MD5(username ":" realm ":" password) (RFC 5389 §15.4). */
const longTermKey = (username: string, realm: string, password: string) =>
  createHash('md5').update(`${username}:${realm}:${password}`).digest();

/**
 * Asks the TURN server at `host:port` for a UDP relay with `username` / `password`, as RFC 5766 §6.1 says:
 * first without credentials (the server answers 401 with its realm and nonce), then signed. An allocation
 * it grants is released again at once (Refresh, lifetime 0).
 */
export async function allocateRelay(options: {
  host: string;
  port: number;
  username: string;
  password: string;
}): Promise<AllocateOutcome> {
  const { host, port, username, password } = options;
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  try {
    const transport = { type: attribute.requestedTransport, value: Buffer.from([UDP, 0, 0, 0]) };
    const challenge = await transact(
      socket,
      port,
      host,
      encode(ALLOCATE_REQUEST, [transport], randomBytes(12)),
    );
    if (challenge.type !== ALLOCATE_ERROR) throw new Error('the TURN server allocated without credentials');
    const realm = find(challenge, attribute.realm);
    const nonce = find(challenge, attribute.nonce);
    if (errorOf(challenge).code !== 401 || !realm || !nonce)
      throw new Error(`unexpected challenge: ${JSON.stringify(errorOf(challenge))}`);
    const key = longTermKey(username, realm.toString('utf8'), password);
    const identity = [
      { type: attribute.username, value: Buffer.from(username, 'utf8') },
      { type: attribute.realm, value: realm },
      { type: attribute.nonce, value: nonce },
    ];
    const answer = await transact(
      socket,
      port,
      host,
      encode(ALLOCATE_REQUEST, [transport, ...identity], randomBytes(12), key),
    );
    if (answer.type !== ALLOCATE_SUCCESS) return { kind: 'refused', ...errorOf(answer) };
    const relayed = find(answer, attribute.xorRelayedAddress);
    const lifetime = find(answer, attribute.lifetime);
    const release = encode(
      REFRESH_REQUEST,
      [{ type: attribute.lifetime, value: Buffer.alloc(4) }, ...identity],
      randomBytes(12),
      key,
    );
    await transact(socket, port, host, release);
    return {
      kind: 'allocated',
      relayedAddress: relayed ? xorAddress(relayed) : '',
      lifetime: lifetime?.readUInt32BE(0) ?? 0,
      integrityVerified: integrityHolds(answer, key),
    };
  } finally {
    socket.close();
  }
}
