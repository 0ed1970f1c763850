import { ParleyApiError, ParleyAuthError } from '@parley/client';

/** What the console says for an error code, when the server's own message is not the clearest wording. */
const WORDING: Readonly<Record<string, string>> = {
  invalid_grant: 'The tenant, e-mail, password or code is not right.',
  mfa_code_reused: 'That code was already used. Wait for the next one.',
  account_restricted: 'This account is restricted. Ask an administrator.',
  temporarily_unavailable: 'Too many attempts. Try again later.',
  invalid_token: 'Your session ended. Sign in again.',
  insufficient_scope: 'This session may not do that.',
  forbidden: 'Your role does not allow this.',
  not_found: 'Not found.',
  conflict: 'That conflicts with the current state (already exists?).',
  consent_required:
    'You have not accepted the current version of a required purpose. Sign in again to read and accept it.',
  consent_version_stale: 'That purpose changed in the meantime. Reload the page to see its current version.',
  rate_limited: 'Too many requests. Try again shortly.',
  export_rate_limited: 'Too many exports were requested recently. Try again later.',
  export_in_progress: 'An export is already being prepared. Wait for it to finish.',
  export_not_ready: 'The archive is still being prepared.',
  export_failed: 'The export could not be completed. Request a new one.',
  export_expired: 'The archive expired and was deleted. Request a new one.',
  export_destroyed: 'The archive was deleted. Request a new one.',
};

/** A sentence for the user, with the request id to quote to an operator when the server gave one. */
export function errorText(error: unknown): string {
  if (error instanceof ParleyApiError) {
    const text = WORDING[error.code] ?? error.message;
    return error.requestId ? `${text} (code ${error.code}, request ${error.requestId})` : text;
  }
  if (error instanceof ParleyAuthError) {
    const retry = error.retryAfterSeconds ? ` Try again in ${error.retryAfterSeconds} s.` : '';
    return `${WORDING[error.error] ?? error.message}${retry}`;
  }
  if (error instanceof TypeError) return 'The server could not be reached.';
  return 'Something went wrong.';
}
