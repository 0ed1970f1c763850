import type { EventEmitter } from 'node:events';
import type { ClientFrame } from '@parley/protocol';
import type { DialectName } from '../storage/dialects/dialect-adapter.ts';
import type { Logger } from './logger.ts';
import type { TraceParent } from './traceparent.ts';

/**
 * Tracing: OpenTelemetry spans of HTTP requests, realtime frames and database transactions, exported over
 * OTLP/HTTP when `PARLEY_TRACING=true` (docs/monitoring.md, Tracing). The OpenTelemetry SDK lives in
 * `otel-tracing.ts` and is imported only then: off, the server loads none of it, makes no span, and each
 * traced place costs one call to a no-op.
 *
 * Every attribute a span may carry is named in the methods below, from bounded sets: route templates,
 * methods, status codes, frame types, catalogue error codes, the dialect, the request id. The port takes no
 * free-form attributes, so no caller can hand it a URL, a header, a body, a user or tenant id or an address.
 */
export interface Tracing {
  readonly enabled: boolean;
  /**
   * Opens the span of one HTTP request. `parent` is the caller's well-formed `traceparent`, whose trace the
   * span continues (and whose sampling decision it follows); its `tracestate` is not kept.
   */
  startRequest(method: string, parent: TraceParent | undefined): RequestSpan;
  /** Opens the span of one realtime frame of a known type (invalid frames have none). */
  startFrame(type: ClientFrame['type']): FrameSpan;
  /**
   * One database transaction ended `seconds` after it began, committed (`error` undefined) or rolled back.
   * Recorded as a child of the span active where it ran; transactions outside any request or frame
   * (background jobs, migrations) are not traced.
   */
  transactionEnded(seconds: number, error: unknown): void;
  /** Exports the spans still buffered and stops the exporter (server close). */
  shutdown(): Promise<void>;
}

interface ActiveSpan {
  /** Runs `work` with this span active: the transactions it opens become its children. */
  run<T>(work: () => T): T;
}

export interface RequestSpan extends ActiveSpan {
  /** Listeners added later to `emitter` run inside this span (Fastify reads the body through events). */
  bind(emitter: EventEmitter): void;
  /** `route` is the matched route template (`/v1/dialogs/:dialogId`), undefined when none matched. */
  end(outcome: { route: string | undefined; statusCode: number; requestId: string }): void;
}

export interface FrameSpan extends ActiveSpan {
  /** The frame was answered with this catalogue error code. */
  refused(code: string): void;
  /** `failed`: the handler threw something that is not a refusal (an internal error). */
  end(failed?: boolean): void;
}

const noSpan: RequestSpan & FrameSpan = {
  run: (work) => work(),
  bind: () => undefined,
  refused: () => undefined,
  end: () => undefined,
};

/** Tracing off: no span is made, nothing is loaded. */
export const tracingOff: Tracing = {
  enabled: false,
  startRequest: () => noSpan,
  startFrame: () => noSpan,
  transactionEnded: () => undefined,
  shutdown: () => Promise.resolve(),
};

export interface TracingOptions {
  enabled: boolean;
  /** OTLP/HTTP base URL; undefined: the standard OTEL_EXPORTER_OTLP_* variables, else localhost:4318. */
  endpoint: string | undefined;
  sampleRatio: number;
  nodeId: string;
  dialect: DialectName;
  logger: Logger;
}

/** Tracing as configured: off unless enabled, and then the OpenTelemetry SDK is loaded. */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (!options.enabled) return tracingOff;
  const { createOtelTracing } = await import('./otel-tracing.ts');
  return createOtelTracing(options);
}
