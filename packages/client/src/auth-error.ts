import type { OAuthAnswer } from './oauth-form.ts';

/** The error codes of RFC 6749 §5.2, plus `server_error` for answers that are not OAuth errors at all. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'server_error';

/**
 * An OAuth endpoint refused: `error` is the RFC 6749 code (`invalid_grant` for a wrong password, a wrong MFA
 * code, or a refresh token that was reused, revoked or expired). `status` is undefined when the SDK decided
 * without asking the server; `retryAfterSeconds` is set when the server asked the client to wait (lockout).
 */
export class ParleyAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode | (string & Record<never, never>),
    description: string,
    readonly status: number | undefined,
    readonly retryAfterSeconds?: number,
  ) {
    super(description);
    this.name = 'ParleyAuthError';
  }

  /** The error an OAuth endpoint answered: RFC 6749 §5.2 body, Parley's uniform error body, or neither. */
  static from(answer: OAuthAnswer): ParleyAuthError {
    const { error, error_description: description } = answer.body;
    const retryAfter = answer.retryAfterSeconds;
    if (typeof error === 'string')
      return new ParleyAuthError(
        error,
        typeof description === 'string' ? description : error,
        answer.status,
        retryAfter,
      );
    // Hooks that run before the OAuth route (rate limits, …) answer in the uniform `{ error: { code } }` body.
    if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
      const message = 'message' in error && typeof error.message === 'string' ? error.message : error.code;
      return new ParleyAuthError(error.code, message, answer.status, retryAfter);
    }
    return new ParleyAuthError(
      'server_error',
      `The server answered ${answer.status}.`,
      answer.status,
      retryAfter,
    );
  }
}
