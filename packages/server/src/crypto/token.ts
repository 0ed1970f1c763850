import { createHash, randomBytes } from 'node:crypto';

/**
 * Kinds of opaque secret tokens. The readable prefix lets secret scanners and log redaction spot a leaked
 * token; the 256 random bits behind it make guessing hopeless.
 */
export const tokenPrefixes = {
  setup: 'parley_setup_',
  access: 'parley_at_',
  refresh: 'parley_rt_',
} as const;
export type TokenKind = keyof typeof tokenPrefixes;

/** Matches any Parley token, for log redaction. */
export const anyTokenPattern = /parley_[a-z]+_[A-Za-z0-9_-]{20,}/g;

export function mintToken(kind: TokenKind): string {
  return tokenPrefixes[kind] + randomBytes(32).toString('base64url');
}

/** Tokens are stored only as this hash; a database leak yields nothing usable. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
