import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { traceparentFrom } from '../observability/traceparent.ts';

/**
 * What a caller's `X-Request-Id` may be to be kept: short, one token of characters that are safe in a header,
 * a log line and a JSON body. Anything else (a newline to forge a header or a log line, a long value to bloat
 * every line) is replaced.
 */
const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The id of a request: the caller's `X-Request-Id` when well-formed (a proxy or client that already named the
 * request keeps its name through our logs and answers), else the trace id of a valid `traceparent`, else a
 * fresh UUID. A caller-chosen id is a correlation handle, not a unique key: nothing relies on it being unique.
 */
export function requestIdFrom(headers: IncomingHttpHeaders): string {
  const given = headers['x-request-id'];
  if (typeof given === 'string' && requestIdPattern.test(given)) return given;
  return traceparentFrom(headers)?.traceId ?? randomUUID();
}
