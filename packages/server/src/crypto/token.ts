import { createHash, randomBytes } from 'node:crypto';

/**
 * Kinds of opaque secret tokens. The readable prefix lets secret scanners and log redaction spot a leaked
 * token; the 256 random bits behind it make guessing hopeless.
 */
export const tokenPrefixes = {
  setup: 'parley_setup_',
  access: 'parley_at_',
  refresh: 'parley_rt_',
  mfa: 'parley_mfa_',
  reset: 'parley_pr_',
  verify: 'parley_ev_',
  client: 'parley_cs_',
  /** An operator staff session (platform/): never valid on a tenant's routes. */
  staff: 'parley_st_',
  /** The one-time token that lets a new staff member set a password and confirm their TOTP secret. */
  staffEnrolment: 'parley_se_',
} as const;
export type TokenKind = keyof typeof tokenPrefixes;

/** Matches any Parley token, for log redaction. */
export const anyTokenPattern = /parley_[a-z]+_[A-Za-z0-9_-]{20,}/g;

export function mintToken(kind: TokenKind): string {
  return tokenPrefixes[kind] + randomBytes(32).toString('base64url');
}

/**
 * A token that also routes to its tenant: 16 bytes of tenant id, then 32 random bytes. The tenant part is
 * not a secret; it lets the server look the token up inside that tenant's row-level-security scope. A
 * forged tenant part only sends the lookup to a tenant where the hash does not exist.
 */
export function mintTenantToken(kind: TokenKind, tenantId: string): string {
  const tenant = Buffer.from(tenantId.replaceAll('-', ''), 'hex');
  if (tenant.length !== 16) throw new Error('tenant ids are UUIDs');
  return tokenPrefixes[kind] + Buffer.concat([tenant, randomBytes(32)]).toString('base64url');
}

/** The tenant a tenant token routes to, or undefined when the token is not of that kind and shape. */
export function tenantOfToken(kind: TokenKind, token: string): string | undefined {
  const prefix = tokenPrefixes[kind];
  if (!token.startsWith(prefix) || token.length !== prefix.length + 64) return undefined;
  const body = Buffer.from(token.slice(prefix.length), 'base64url');
  if (body.length !== 48) return undefined;
  const hex = body.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Tokens are stored only as this hash; a database leak yields nothing usable. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
