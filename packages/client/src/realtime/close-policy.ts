import type { closeCodes as protocolCloseCodes } from '@parley/protocol';

/**
 * The protocol's close codes, mirrored so the browser bundle does not pull in the protocol's runtime (zod);
 * `satisfies` makes the compiler keep the two equal.
 */
export const closeCodes = {
  goingAway: 1001,
  protocolError: 1002,
  invalidPayload: 1007,
  tooLarge: 1009,
  tryAgainLater: 1013,
  unauthorized: 4001,
  forbidden: 4003,
  authTimeout: 4008,
  rateLimited: 4029,
  resume: 4100,
} as const satisfies typeof protocolCloseCodes;

/** A throttled client waits at least this long before it comes back. */
const RATE_LIMITED_DELAY_MS = 5_000;

/** What the client does after its socket closed (not by {@link RealtimeClient.close}). */
export type CloseAction =
  /** Reconnect after the back-off (at least `minDelayMs`) and resume. */
  | { kind: 'reconnect'; minDelayMs: number }
  /** The token was refused (expired, replaced, revoked): renew it, then reconnect. */
  | { kind: 'renew-token' }
  /** Retrying cannot help. */
  | { kind: 'stop'; code: 'forbidden' };

/**
 * Close codes and their remedies (docs/realtime.md). Everything not named — 1001 going away, 4100 resume,
 * 4008 auth timeout, 1013 try again later, 1006 a dropped connection — is worth a reconnect and a resume. 1009 too: the client
 * refuses oversized frames before sending, and drops the largest waiting request when it happens anyway.
 */
export function actionAfterClose(code: number): CloseAction {
  switch (code) {
    case closeCodes.unauthorized:
      return { kind: 'renew-token' };
    case closeCodes.forbidden:
      return { kind: 'stop', code: 'forbidden' };
    case closeCodes.rateLimited:
      return { kind: 'reconnect', minDelayMs: RATE_LIMITED_DELAY_MS };
    default:
      return { kind: 'reconnect', minDelayMs: 0 };
  }
}
