import type { IncomingHttpHeaders } from 'node:http';

/** The parts of a W3C Trace Context `traceparent` header (version 00). */
export interface TraceParent {
  traceId: string;
  parentId: string;
  sampled: boolean;
}

/**
 * W3C Trace Context `traceparent` (version 00): version-traceid-parentid-flags in lower-case hex. An
 * all-zero trace or parent id is invalid by the spec, and so is version ff.
 */
const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The caller's `traceparent` when well formed: the trace a request continues (docs/monitoring.md, Tracing)
 * and, lacking an `X-Request-Id`, the request's id. Anything else is ignored, as the spec asks.
 */
export function traceparentFrom(headers: IncomingHttpHeaders): TraceParent | undefined {
  const header = headers.traceparent;
  const match = typeof header === 'string' ? traceparentPattern.exec(header.trim()) : null;
  if (!match) return undefined;
  const [, version, traceId = '', parentId = '', flags = '00'] = match;
  if (version === 'ff' || /^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return { traceId, parentId, sampled: (parseInt(flags, 16) & 1) === 1 };
}
