import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries a webhook notice's signature. */
export const SIGNATURE_HEADER = 'parley-signature';
/** A receiver refuses a notice signed longer ago than this (or this far in the future). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`: the timestamp is signed with the body,
 * so a captured notice cannot be replayed later with a fresh time, nor its body changed.
 */
export function signAlertBody(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export type SignatureCheck =
  { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

/**
 * What a receiver runs on the raw body before it parses it (docs/monitoring.md): the MAC must match in
 * constant time and the timestamp must be within `toleranceSeconds` of its own clock. Within that window a
 * receiver also drops a `delivery` id it has seen already, which makes a replay inside the window harmless.
 */
export function verifyAlertSignature(
  secret: string,
  header: string | undefined,
  body: string,
  nowSeconds: number,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): SignatureCheck {
  const parts = new Map(
    (header ?? '').split(',').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const timestamp = Number(parts.get('t'));
  const given = parts.get('v1') ?? '';
  if (!Number.isSafeInteger(timestamp) || !/^[0-9a-f]{64}$/.test(given))
    return { ok: false, reason: 'malformed' };
  const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest();
  if (!timingSafeEqual(expected, Buffer.from(given, 'hex'))) return { ok: false, reason: 'bad_signature' };
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, timestamp };
}
