/**
 * No database connection could be had in time: every connection of the pool was busy for the whole wait (an
 * overload) or the database did not answer (it is down or unreachable). A client is told to retry (503 with
 * `Retry-After`, or a `service_unavailable` frame), not that the server failed; the cause is for the
 * operator's log. Not an `AppError`: it still counts as a database error in the metrics.
 */
export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    super('no database connection could be had in time', { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

/** What a client is told, and after how many seconds it may try again. */
export const databaseUnavailableAnswer = {
  message: 'The database is busy or unreachable; try again shortly.',
  retryAfterSeconds: 1,
} as const;
