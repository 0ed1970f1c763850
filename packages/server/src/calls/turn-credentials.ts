import { createHmac } from 'node:crypto';

/** A TURN username and password for the long-term credential mechanism (RFC 5389 §10.2). */
export interface TurnCredential {
  /** `<expiry unix seconds>:<opaque user handle>`. */
  username: string;
  /** base64(HMAC-SHA1(secret, username)). */
  credential: string;
  /** When the TURN server stops accepting `username` for new allocations. */
  expiresAt: Date;
}

/**
 * The opaque part of the username must not contain the separator coturn splits on (`rest-api-separator`,
 * `:` by default) and must carry no personal data: TURN servers log usernames.
 */
const handlePattern = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Mints credentials in the TURN REST API scheme (draft-uberti-behave-turn-rest, what coturn's
 * `use-auth-secret` + `static-auth-secret` checks): the TURN server recomputes the HMAC from the username
 * with the same secret, so no per-user state is shared with it, and refuses a username whose timestamp has
 * passed. HMAC-SHA1 is what the scheme and coturn use; it is a MAC here, where SHA-1's collision weakness
 * does not apply.
 */
export function mintTurnCredential(secret: string, handle: string, expiresAt: Date): TurnCredential {
  if (!handlePattern.test(handle)) throw new Error('a TURN user handle must be base64url characters only');
  const username = `${String(Math.floor(expiresAt.getTime() / 1000))}:${handle}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAt: new Date(Math.floor(expiresAt.getTime() / 1000) * 1000) };
}
