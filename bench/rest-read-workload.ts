import type { Http } from './bench-http.js';
import type { OpenLoopWorkload, TrialProbe } from './open-loop.js';

/** One GET: the path (with its query) and whose token asks. */
export interface ReadRequest {
  path: string;
  token: string;
}

/**
 * REST reads, open loop: each operation is one GET from `next()`, arriving when its whole body has been read
 * with status 200; any other status or a failed request is a failure. Requests share the `Http` pool, so a
 * server that answers too slowly builds a queue here, timed from each request's scheduled start.
 */
export class RestReadWorkload implements OpenLoopWorkload {
  #open = 0;

  constructor(
    private readonly http: Http,
    private readonly next: () => ReadRequest,
  ) {}

  start(scheduledAt: number, probe: TrialProbe): number {
    const { path, token } = this.next();
    this.#open += 1;
    this.http.status(path, token).then(
      (status) => {
        this.#open -= 1;
        if (status === 200) probe.arrived(scheduledAt, performance.now());
        else probe.failed(`http ${status}`);
      },
      (error: unknown) => {
        this.#open -= 1;
        probe.failed(
          error instanceof Error ? (error.name === 'Error' ? error.message : error.name) : 'failed',
        );
      },
    );
    return 1;
  }

  pending(): number {
    return this.#open;
  }

  /** Requests cannot be called back; they finish (or time out) on their own. */
  forget(): void {
    return undefined;
  }
}
