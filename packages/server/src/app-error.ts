import type { ErrorCode } from '@parley/protocol';

/**
 * The one error type domain code throws. The HTTP edge maps `code` through the catalogue; `message` must be
 * safe to show a client (no secrets, no personal data, no internals).
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message ?? code);
    this.name = 'AppError';
  }
}
