const CODE = /^[a-z][a-z0-9_]{0,63}$/;
const MESSAGE_LIMIT = 500;

/**
 * A failure a job handler (or scheduled task) names itself. Its code and message are stored on the job row
 * for operators to read, so the message must hold no personal data and no secrets (ids are fine).
 */
export class JobError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    if (!CODE.test(code)) throw new TypeError('a job error code is lower_snake_case, at most 64 characters');
    super(message.slice(0, MESSAGE_LIMIT));
    this.name = 'JobError';
  }
}

/**
 * What is recorded of a failure: a `JobError` as thrown; anything else only by its class name, since a
 * library's message can quote the data it choked on (a database error quotes the values of a row). Never a
 * stack. The full error goes to the log, whose scrubber runs over it.
 */
export function recordedError(error: unknown): { code: string; message: string } {
  if (error instanceof JobError) return { code: error.code, message: error.message };
  const name = error instanceof Error ? error.name : typeof error;
  return { code: 'internal_error', message: `the handler failed (${name.slice(0, 64)})` };
}

/**
 * Thrown by a handler that cannot go on yet and must not use up an attempt (a legal hold on an erasure's
 * user): the job goes back to `queued` with `run_after` = `until`, its code and message recorded so operators
 * see why it waits, and the attempt is not counted.
 */
export class JobDeferred extends JobError {
  constructor(
    code: string,
    message: string,
    readonly until: number,
  ) {
    super(code, message);
    this.name = 'JobDeferred';
  }
}

/** Why running work was told to stop early. */
export type InterruptReason = 'cancelled' | 'stopping' | 'lost';

/**
 * The abort reason of a job's or task's signal: `cancelled` (someone cancelled the job), `stopping` (this
 * node shuts down; the work is handed back and resumes elsewhere) or `lost` (the claim or lease lapsed and may
 * be another node's now: commit nothing more). Work that honours the signal throws it
 * (`signal.throwIfAborted()`).
 */
export class Interrupted extends Error {
  constructor(readonly reason: InterruptReason) {
    super(`interrupted: ${reason}`);
    this.name = 'Interrupted';
  }
}

/** The reason `signal` was aborted with, if it was aborted by the runner or scheduler. */
export function interruptionOf(signal: AbortSignal): InterruptReason | undefined {
  const reason: unknown = signal.reason;
  return signal.aborted && reason instanceof Interrupted ? reason.reason : undefined;
}
