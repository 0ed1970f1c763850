import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** PostgreSQL URL when reachable, else empty: suites that need it skip (or, under CI, the run fails). */
    postgresUrl: string;
    /** Redis URL when reachable, else empty. */
    redisUrl: string;
  }
}
