import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * What a caller's `X-Request-Id` may be to be kept: short, one token of characters that are safe in a header,
 * a log line and a JSON body. Anything else (a newline to forge a header or a log line, a long value to bloat
 * every line) is replaced.
 */
const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * W3C Trace Context `traceparent` (version 00): version-traceid-parentid-flags in lower-case hex. An
 * all-zero trace or parent id is invalid by the spec, and so is version ff.
 */
const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function traceIdOf(traceparent: string): string | undefined {
  const match = traceparentPattern.exec(traceparent.trim());
  if (!match) return undefined;
  const [, version, traceId = '', parentId = ''] = match;
  if (version === 'ff' || /^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return traceId;
}

/**
 * The id of a request: the caller's `X-Request-Id` when well-formed (a proxy or client that already named the
 * request keeps its name through our logs and answers), else the trace id of a valid `traceparent`, else a
 * fresh UUID. A caller-chosen id is a correlation handle, not a unique key: nothing relies on it being unique.
 */
export function requestIdFrom(headers: IncomingHttpHeaders): string {
  const given = headers['x-request-id'];
  if (typeof given === 'string' && requestIdPattern.test(given)) return given;
  const traceparent = headers.traceparent;
  const traceId = typeof traceparent === 'string' ? traceIdOf(traceparent) : undefined;
  return traceId ?? randomUUID();
}
