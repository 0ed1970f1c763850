import { anyTokenPattern } from '../crypto/token.ts';

/**
 * Last line of defence for log lines: whatever structured redaction missed, these patterns catch in any
 * string value. They favour false positives (an over-redacted log) over leaks.
 */
const emailPattern = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}.-]+\.\p{L}{2,}/gu;
// E.164-style numbers with a leading "+", and common national formats such as "(030) 1234 5678".
const phonePattern = /(?:\+\d[\d\s().-]{6,}\d)|(?:\(\d{2,5}\)[\d\s.-]{5,}\d)/g;
const bearerPattern = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;

export const REDACTED = '[REDACTED]';

export function scrubString(value: string): string {
  return value
    .replace(anyTokenPattern, REDACTED)
    .replace(bearerPattern, `$1 ${REDACTED}`)
    .replace(emailPattern, REDACTED)
    .replace(phonePattern, REDACTED);
}

/** Keys whose values are never logged, at any depth. */
const sensitiveKey =
  /pass(word)?|secret|token|authorization|cookie|e-?mail|phone|mobile|otp|totp|recovery|api[-_]?key|private|credential|ssn|display[-_]?name|first[-_]?name|last[-_]?name|full[-_]?name/i;

export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, depth + 1));
  // Class instances (requests, replies, errors) are left to their pino serializers, which run later.
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = sensitiveKey.test(key) ? REDACTED : scrubValue(inner, depth + 1);
  }
  return out;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Query strings are reduced to their parameter names: values are where tokens and addresses leak. */
export function scrubUrl(url: string): string {
  const queryStart = url.indexOf('?');
  const rawPath = queryStart === -1 ? url : url.slice(0, queryStart);
  // Scrub the decoded path too: "%40" hides an e-mail address from the pattern.
  const path =
    scrubString(safeDecode(rawPath)) === safeDecode(rawPath) ? rawPath : scrubString(safeDecode(rawPath));
  if (queryStart === -1) return path;
  const names = [...new URLSearchParams(url.slice(queryStart + 1)).keys()];
  return `${path}?${names.map((name) => `${encodeURIComponent(scrubString(name))}=${REDACTED}`).join('&')}`;
}
