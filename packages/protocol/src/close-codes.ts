/**
 * WebSocket close codes Parley uses (4xxx mirror HTTP meanings). A client should reconnect and resume after
 * `resume` and `goingAway`, and must not reconnect with the same token after `unauthorized`.
 */
export const closeCodes = {
  /** The server is shutting down; reconnect (to another node) and resume. */
  goingAway: 1001,
  /** A frame broke RFC 6455 (unmasked, reserved opcode or RSV bits, bad control frame, bad close code…). */
  protocolError: 1002,
  /** A text frame or close reason was not valid UTF-8. */
  invalidPayload: 1007,
  /** A frame (or a fragmented message in total) was larger than the limit. */
  tooLarge: 1009,
  /** Signed in, but the node cannot deliver right now (its bus is down): reconnect with back-off and resume. */
  tryAgainLater: 1013,
  /**
   * The first frame was not a valid `auth`, or the token is invalid, expired or revoked, or its session
   * ended (signed out, deactivated, password or MFA reset, idle timeout): sent at once, on every node.
   */
  unauthorized: 4001,
  /** The token lacks the `chat` scope, a role change took away reading dialogs, or the user owes consent. */
  forbidden: 4003,
  /** No `auth` frame within the time allowed. */
  authTimeout: 4008,
  /** Too many frames, or too many invalid frames. */
  rateLimited: 4029,
  /** The client fell behind (send buffer full): reconnect and resume from the database. */
  resume: 4100,
} as const;
export type CloseCode = (typeof closeCodes)[keyof typeof closeCodes];

/** What each close code tells a client, for the AsyncAPI document (the same words as above). */
export const closeCodeDescriptions: Record<keyof typeof closeCodes, string> = {
  goingAway: 'The server is shutting down; reconnect (to another node) and resume.',
  protocolError:
    'A frame broke RFC 6455 (unmasked, reserved opcode or RSV bits, bad control frame, bad close code…).',
  invalidPayload: 'A text frame or close reason was not valid UTF-8.',
  tooLarge: 'A frame (or a fragmented message in total) was larger than the limit.',
  tryAgainLater:
    'Signed in, but the node cannot deliver right now (its bus is down): reconnect with back-off and resume.',
  unauthorized:
    'The first frame was not a valid `auth`, or the token is invalid, expired or revoked, or its session ended (signed out, deactivated, password or MFA reset, idle timeout). Do not reconnect with the same token.',
  forbidden:
    'The token lacks the `chat` scope, a role change took away reading dialogs, or the user owes consent to a required purpose (docs/privacy.md).',
  authTimeout: 'No `auth` frame within the time allowed.',
  rateLimited: 'Too many frames, or too many invalid frames.',
  resume: 'The client fell behind (send buffer full): reconnect and resume from the database.',
};
