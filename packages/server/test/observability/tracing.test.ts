/**
 * Tracing (PARLEY_TRACING): spans of HTTP requests, realtime frames and database transactions reach an
 * OTLP/HTTP collector, nested as the work was, and continuing a caller's `traceparent`.
 *
 * Attack (privacy): someone with access to the trace store (an observability vendor, an operator's
 * colleague) reads the exported spans hoping to learn who talked to whom and what was said. Canary values
 * (an e-mail address, a display name, a tenant name, message text, user, tenant and dialog ids, the bearer
 * token, a query string, the client's address and user agent) go through the traced requests and frames;
 * none of them may appear anywhere in what the collector received.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newMember, newTenantOwner } from '../support/identity-fixtures.ts';
import { openSocket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/** One attribute of an OTLP/JSON span or resource. */
interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; boolValue?: boolean };
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
  status?: { code?: number };
}

interface OtlpExport {
  resourceSpans: {
    resource: { attributes: OtlpAttribute[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}

/** A span with its attributes as a plain record. */
interface SpanView {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  attributes: Record<string, string | number | boolean | undefined>;
}

const valueOf = (attribute: OtlpAttribute) =>
  attribute.value.stringValue ??
  (attribute.value.intValue === undefined ? attribute.value.boolValue : Number(attribute.value.intValue));

const recordOf = (attributes: OtlpAttribute[]) =>
  Object.fromEntries(attributes.map((attribute) => [attribute.key, valueOf(attribute)]));

/** A local OTLP/HTTP receiver (JSON protocol): keeps every export's raw body. */
class OtlpReceiver {
  readonly bodies: string[] = [];
  readonly paths: string[] = [];
  readonly server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      this.paths.push(request.url ?? '');
      this.bodies.push(Buffer.concat(chunks).toString('utf8'));
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  exports(): OtlpExport[] {
    return this.bodies.map((body) => JSON.parse(body) as OtlpExport);
  }

  spans(): SpanView[] {
    return this.exports().flatMap((exported) =>
      exported.resourceSpans.flatMap((resourceSpan) =>
        resourceSpan.scopeSpans.flatMap((scope) =>
          scope.spans.map((span) => ({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId === '' ? undefined : span.parentSpanId,
            name: span.name,
            attributes: recordOf(span.attributes),
          })),
        ),
      ),
    );
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }
}

describeEachDialect('tracing', (dialect) => {
  let receiver: OtlpReceiver;
  let endpoint: string;

  beforeEach(async () => {
    receiver = new OtlpReceiver();
    endpoint = await receiver.start();
  });

  afterEach(async () => {
    await receiver.close();
  });

  it('exports nested spans of requests, frames and transactions, continues a traceparent, and carries no personal data', async () => {
    const server: TestServer = await startTestServer({
      dialect,
      env: {
        PARLEY_TRACING: 'true',
        PARLEY_OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        PARLEY_NODE_ID: 'trace-node-1',
      },
    });
    let closed = false;
    try {
      const owner = await newTenantOwner(server, 'Canary Clinic Tenant');
      const member = await newMember(server, owner, 'zebediah.canary@canary.example');
      const dialogName = 'Canary Ward Secrets';
      const created = await server.request(
        '/v1/dialogs',
        json({ type: 'group', name: dialogName, memberIds: [member.userId] }, owner.accessToken),
      );
      expect(created.status).toBe(201);
      const dialogId = created.json<{ id: string }>().id;

      // A REST send that continues the caller's trace.
      const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
      const callerSpan = '00f067aa0ba902b7';
      const restText = 'canary rest text: the patient in bed seven';
      const sent = await server.request(`/v1/dialogs/${dialogId}/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${owner.accessToken}`,
          traceparent: `00-${callerTrace}-${callerSpan}-01`,
          tracestate: 'canaryvendor=zebediah',
        },
        body: JSON.stringify({ clientId: 'canary-client-1', body: restText }),
      });
      expect(sent.status).toBe(201);
      const sentRequestId = sent.headers['x-request-id'];
      // A read with ids and a query string in its URL.
      const listed = await server.request(
        `/v1/dialogs/${dialogId}/messages?limit=7`,
        bearer(owner.accessToken),
      );
      expect(listed.status).toBe(200);
      const badQuery = await server.request(
        `/v1/dialogs/${dialogId}/messages?canaryquery=zebediah`,
        bearer(owner.accessToken),
      );
      expect(badQuery.status).toBe(400);
      // A refused request: its span is there with its 4xx, not an error status.
      expect((await server.request('/v1/me')).status).toBe(401);

      // Realtime: sign in, a send that commits, and one refused (a dialog that does not exist).
      const socket = await openSocket(server, owner.accessToken);
      const frameText = 'canary frame text: results are positive';
      socket.send({ type: 'message.send', id: 'canary-frame-1', dialogId, body: frameText });
      await socket.next((frame) => frame.type === 'ack' && frame.id === 'canary-frame-1');
      socket.send({
        type: 'message.send',
        id: 'canary-frame-2',
        dialogId: '0190c3a0-0000-7000-8000-000000000000',
        body: frameText,
      });
      const refusal = await socket.next((frame) => frame.type === 'error' && frame.id === 'canary-frame-2');
      socket.ws.close();
      await socket.closed;

      // Shutting down flushes what the batch processor still holds.
      await server.close();
      closed = true;

      expect(receiver.paths.every((path) => path === '/v1/traces')).toBe(true);
      const resource = recordOf(receiver.exports()[0]?.resourceSpans[0]?.resource.attributes ?? []);
      expect(resource).toMatchObject({ 'service.name': 'parley', 'service.instance.id': 'trace-node-1' });
      const spans = receiver.spans();
      const childrenOf = (parent: SpanView) =>
        spans.filter((span) => span.parentSpanId === parent.spanId && span.traceId === parent.traceId);

      // The HTTP span: route template, method, status, request id; the caller's trace continued.
      const sendSpan = spans.find((span) => span.name === 'POST /v1/dialogs/:dialogId/messages');
      expect(sendSpan).toBeDefined();
      if (!sendSpan) return;
      expect(sendSpan.attributes).toMatchObject({
        'http.request.method': 'POST',
        'http.route': '/v1/dialogs/:dialogId/messages',
        'http.response.status_code': 201,
        'parley.request_id': sentRequestId,
      });
      expect(sendSpan.traceId).toBe(callerTrace);
      expect(sendSpan.parentSpanId).toBe(callerSpan);
      // Its transactions (the auth hook's session lookup, the send's commit) are its children.
      const sendTransactions = childrenOf(sendSpan).filter((span) => span.name === 'db.transaction');
      expect(sendTransactions.length).toBeGreaterThan(0);
      for (const transaction of sendTransactions) {
        expect(transaction.attributes).toMatchObject({
          'db.system.name': dialect === 'postgres' ? 'postgresql' : 'sqlite',
          'parley.db.outcome': 'commit',
        });
      }

      const listSpan = spans.find((span) => span.name === 'GET /v1/dialogs/:dialogId/messages');
      expect(listSpan?.attributes['http.response.status_code']).toBe(200);
      expect(listSpan?.parentSpanId).toBeUndefined(); // no traceparent: a trace of its own
      expect(spans.find((span) => span.name === 'GET /v1/me')?.attributes['http.response.status_code']).toBe(
        401,
      );

      // Frames: the sign-in, the committed send (with its transaction as a child) and the refused send.
      const authSpan = spans.find((span) => span.name === 'realtime auth');
      expect(authSpan?.attributes).toMatchObject({
        'parley.frame.type': 'auth',
        'parley.frame.outcome': 'ok',
      });
      const frameSpans = spans.filter((span) => span.name === 'realtime message.send');
      const okFrame = frameSpans.find((span) => span.attributes['parley.frame.outcome'] === 'ok');
      const refusedFrame = frameSpans.find((span) => span.attributes['parley.frame.outcome'] === 'error');
      expect(okFrame).toBeDefined();
      if (okFrame) expect(childrenOf(okFrame).some((span) => span.name === 'db.transaction')).toBe(true);
      expect(refusedFrame?.attributes['parley.error_code']).toBe(refusal.code);

      // Nothing personal anywhere in what left the server.
      const exported = receiver.bodies.join('\n');
      const canaries = [
        owner.email,
        'Olivia Owner',
        'zebediah',
        'Canary Clinic Tenant',
        dialogName,
        restText,
        frameText,
        owner.userId,
        member.userId,
        owner.tenantId,
        dialogId,
        owner.accessToken,
        owner.accessToken.slice(0, 24),
        'canaryquery',
        'limit=7',
        'canary-client-1',
        'canary-frame-1',
        '127.0.0.1',
        'undici',
        'authorization',
        'Bearer',
      ];
      for (const canary of canaries) expect(exported, canary).not.toContain(canary);
    } finally {
      if (!closed) await server.close();
    }
  });

  it("samples by PARLEY_TRACING_SAMPLE_RATIO, and follows a caller's sampled traceparent", async () => {
    const server = await startTestServer({
      dialect,
      env: {
        PARLEY_TRACING: 'true',
        PARLEY_OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        PARLEY_TRACING_SAMPLE_RATIO: '0',
      },
    });
    const callerTrace = '0af7651916cd43dd8448eb211c80319c';
    expect((await server.request('/livez')).status).toBe(200);
    // Malformed (upper-case hex): ignored, so the ratio decides.
    const malformed = `00-${callerTrace.toUpperCase()}-b7ad6b7169203331-01`;
    expect((await server.request('/livez', { headers: { traceparent: malformed } })).status).toBe(200);
    const sampled = `00-${callerTrace}-b7ad6b7169203331-01`;
    expect((await server.request('/readyz', { headers: { traceparent: sampled } })).status).toBe(200);
    await server.close();
    const spans = receiver.spans();
    expect(spans.map((span) => span.name)).toEqual(['GET /readyz']);
    expect(spans[0]?.traceId).toBe(callerTrace);
    expect(spans[0]?.parentSpanId).toBe('b7ad6b7169203331');
  });

  it('exports nothing by default, even with a collector endpoint configured', async () => {
    const server = await startTestServer({ dialect, env: { PARLEY_OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
    expect(server.app.config.tracing).toBe(false);
    const owner = await newTenantOwner(server);
    const socket = await openSocket(server, owner.accessToken);
    socket.send({ type: 'ping' });
    await socket.next((frame) => frame.type === 'pong');
    socket.ws.close();
    await socket.closed;
    await server.close();
    expect(receiver.bodies).toEqual([]);
  });
});

describeEachDialect('tracing without a collector', (dialect) => {
  it('serves on when the collector is down, warns in the log, and shuts down within its 5 s wait', async () => {
    const gone = new OtlpReceiver();
    const endpoint = await gone.start();
    await gone.close(); // the port is free again: connections are refused
    const server = await startTestServer({
      dialect,
      env: { PARLEY_TRACING: 'true', PARLEY_OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
    });
    const owner = await newTenantOwner(server);
    expect((await server.request('/v1/me', bearer(owner.accessToken))).status).toBe(200);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(8_000);
    const warnings = server.logs
      .entries()
      .filter((entry) => entry.msg === 'trace export failed; spans dropped');
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings)).not.toContain(owner.email);
  });
});
