import {
  type Attributes,
  type Context,
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import {
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  DB_SYSTEM_NAME_VALUE_POSTGRESQL,
  HTTP_REQUEST_METHOD_VALUE_OTHER,
} from '@opentelemetry/semantic-conventions';
import { AppError } from '../app-error.ts';
import { parleyVersion } from '../version.ts';
import type { TraceParent } from './traceparent.ts';
import type { FrameSpan, RequestSpan, Tracing, TracingOptions } from './tracing.ts';

/** Methods a span may name; anything else a client sends is `_OTHER` (OpenTelemetry's HTTP conventions). */
const knownMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** How long a close waits for the last spans to reach the collector. */
const SHUTDOWN_TIMEOUT_MS = 5_000;
/** A collector that is away is said once a minute, not on every export. */
const EXPORT_WARNING_INTERVAL_MS = 60_000;

/**
 * The context manager is process-wide in OpenTelemetry's API. One is enabled at the first start and kept:
 * several servers in one process (tests, two-node tests) share it, and it holds no state of theirs.
 */
function ensureContextManager(): void {
  const manager = new AsyncLocalStorageContextManager();
  if (context.setGlobalContextManager(manager)) manager.enable();
}

/** Tells the logger when spans could not be exported (a collector down or refusing), at most once a minute. */
function warningExporter(inner: SpanExporter, warn: (error: unknown) => void): SpanExporter {
  let lastWarned = 0;
  return {
    export(spans: ReadableSpan[], done) {
      inner.export(spans, (result) => {
        if (result.error !== undefined && Date.now() - lastWarned > EXPORT_WARNING_INTERVAL_MS) {
          lastWarned = Date.now();
          warn(result.error);
        }
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

/** The context a request continues: the caller's span when its `traceparent` was well formed. */
function parentContext(parent: TraceParent | undefined): Context {
  if (!parent) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.parentId,
    traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });
}

function requestSpan(tracer: Tracer, method: string, parent: TraceParent | undefined): RequestSpan {
  const shownMethod = knownMethods.has(method) ? method : HTTP_REQUEST_METHOD_VALUE_OTHER;
  const caller = parentContext(parent);
  const span = tracer.startSpan(
    shownMethod,
    { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: shownMethod } },
    caller,
  );
  const active = trace.setSpan(caller, span);
  return {
    run: (work) => context.with(active, work),
    bind(emitter) {
      context.bind(active, emitter);
    },
    end({ route, statusCode, requestId }) {
      // The route template, never the path: ids and query strings stay out of the trace.
      if (route !== undefined) {
        span.updateName(`${shownMethod} ${route}`);
        span.setAttribute(ATTR_HTTP_ROUTE, route);
      }
      span.setAttributes({ [ATTR_HTTP_RESPONSE_STATUS_CODE]: statusCode, 'parley.request_id': requestId });
      // A 4xx is the client's mistake, not the server's (OpenTelemetry's HTTP server conventions).
      if (statusCode >= 500) {
        span.setAttribute(ATTR_ERROR_TYPE, String(statusCode));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    },
  };
}

function frameSpan(tracer: Tracer, type: string): FrameSpan {
  // A frame starts a trace of its own: the socket outlives the upgrade request by hours.
  const span = tracer.startSpan(
    `realtime ${type}`,
    { kind: SpanKind.SERVER, attributes: { 'parley.frame.type': type } },
    ROOT_CONTEXT,
  );
  const active = trace.setSpan(ROOT_CONTEXT, span);
  let code: string | undefined;
  return {
    run: (work) => context.with(active, work),
    refused(refusal) {
      code ??= refusal;
    },
    end(failed = false) {
      const errorCode = failed ? 'internal_error' : code;
      span.setAttribute('parley.frame.outcome', errorCode === undefined ? 'ok' : 'error');
      if (errorCode !== undefined) span.setAttribute('parley.error_code', errorCode);
      if (errorCode === 'internal_error') {
        span.setAttribute(ATTR_ERROR_TYPE, errorCode);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    },
  };
}

/** A transaction's outcome: committed, refused by Parley's own rules (rolled back), or a database error. */
function transactionOutcome(error: unknown): 'commit' | 'refused' | 'error' {
  if (error === undefined) return 'commit';
  return error instanceof AppError ? 'refused' : 'error';
}

/** The OpenTelemetry adapter of the tracing port: loaded by `startTracing` only when tracing is on. */
export function createOtelTracing(options: TracingOptions): Tracing {
  ensureContextManager();
  const exporter = new OTLPTraceExporter({
    ...(options.endpoint === undefined
      ? {}
      : {
          url: new URL(
            'v1/traces',
            options.endpoint.endsWith('/') ? options.endpoint : `${options.endpoint}/`,
          ).href,
        }),
    timeoutMillis: SHUTDOWN_TIMEOUT_MS,
  });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: 'parley',
      [ATTR_SERVICE_VERSION]: parleyVersion,
      [ATTR_SERVICE_INSTANCE_ID]: options.nodeId,
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) }),
    spanProcessors: [
      new BatchSpanProcessor(
        warningExporter(exporter, (error) => {
          options.logger.warn({ err: error }, 'trace export failed; spans dropped');
        }),
      ),
    ],
  });
  // Not registered as the global provider: each server in a process keeps its own (node id, exporter).
  const tracer = provider.getTracer('parley', parleyVersion);
  const dbSystem = options.dialect === 'postgres' ? DB_SYSTEM_NAME_VALUE_POSTGRESQL : 'sqlite';
  return {
    enabled: true,
    startRequest: (method, parent) => requestSpan(tracer, method, parent),
    startFrame: (type) => frameSpan(tracer, type),
    transactionEnded(seconds, error) {
      const parent = trace.getSpan(context.active());
      // Only inside a request or a frame: background work would fill the trace store with lone spans.
      if (!parent?.isRecording()) return;
      // Sub-millisecond: most transactions take less than one.
      const endTime = performance.timeOrigin + performance.now();
      const outcome = transactionOutcome(error);
      const attributes: Attributes = { [ATTR_DB_SYSTEM_NAME]: dbSystem, 'parley.db.outcome': outcome };
      if (outcome === 'error') attributes[ATTR_ERROR_TYPE] = 'database_error';
      const span: Span = tracer.startSpan('db.transaction', {
        kind: SpanKind.CLIENT,
        startTime: endTime - seconds * 1000,
        attributes,
      });
      if (outcome === 'error') span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(endTime);
    },
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_TIMEOUT_MS);
      });
      await Promise.race([provider.shutdown().catch(() => undefined), timeout]);
      clearTimeout(timer);
    },
  };
}
