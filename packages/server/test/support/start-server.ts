import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { Agent, request as undiciRequest } from 'undici';
import { type App, createApp } from '../../src/app.ts';
import type { Clock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import type { RouteDeclaration } from '../../src/http/route-table.ts';
import type { DialectName } from '../../src/storage/dialects/dialect-adapter.ts';
import { createTestDatabase, type TestDatabase } from './dialects.ts';

/** Collects every JSON log line the server writes, so tests can assert on what was (not) logged. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.lines.push(chunk.toString('utf8'));
    callback();
  }
  text(): string {
    return this.lines.join('');
  }
  entries(): Record<string, unknown>[] {
    return this.text()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- a typed view of the body, for assertions
  json<T = Record<string, unknown>>(): T;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface TestServer {
  app: App;
  url: string;
  logs: LogCapture;
  database: TestDatabase;
  /** The certificate the server presents (self-signed), for clients that must trust it. */
  ca: string | undefined;
  request(path: string, options?: RequestOptions): Promise<TestResponse>;
  close(): Promise<void>;
}

export interface StartOptions {
  dialect?: DialectName;
  /** A clock the test can move (token expiry, idle timeouts); the system clock otherwise. */
  clock?: Clock;
  env?: Record<string, string>;
  extraRoutes?: readonly RouteDeclaration[];
}

/** Starts a real server in-process on port 0 with a temp data dir (and a fresh schema on PostgreSQL). */
export async function startTestServer(options: StartOptions = {}): Promise<TestServer> {
  const database = createTestDatabase(options.dialect ?? 'sqlite');
  const config = loadConfig({
    PARLEY_HOST: '127.0.0.1',
    PARLEY_PORT: '0',
    PARLEY_LOG_LEVEL: 'info',
    // Tests that send in bulk (batching, soak, search) are not about the per-user send limit, which
    // send-rate-limit.test.ts exercises at its defaults.
    PARLEY_SEND_RATE_PER_SECOND: '1000000',
    PARLEY_SEND_BURST: '1000000',
    // Every test client comes from 127.0.0.1; connection-limits.security.test.ts tries the caps themselves.
    PARLEY_MAX_CONNECTIONS_PER_ADDRESS: '100000',
    // Each test server's metrics listener on a port of its own (the default 9464 would collide).
    PARLEY_METRICS_PORT: '0',
    ...database.env,
    ...options.env,
  });
  const logs = new LogCapture();
  const app = await createApp(config, {
    logDestination: logs,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.extraRoutes ? { extraRoutes: options.extraRoutes } : {}),
  });
  const url = (await app.listen()).replace('localhost', '127.0.0.1');
  const ca = app.tls ? readFileSync(app.tls.certFile, 'utf8') : undefined;
  const dispatcher = new Agent({ connect: ca ? { ca, servername: 'localhost' } : {} });
  return {
    app,
    url,
    logs,
    database,
    ca,
    async request(path, requestOptions = {}) {
      const response = await undiciRequest(`${url}${path}`, {
        dispatcher,
        method: (requestOptions.method ?? 'GET') as 'GET',
        headers: requestOptions.headers ?? {},
        body: requestOptions.body ?? null,
      });
      const text = await response.body.text();
      return {
        status: response.statusCode,
        headers: response.headers,
        text,
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- see TestResponse.json
        json: <T>() => JSON.parse(text) as T,
      };
    },
    async close() {
      await app.shutdown();
      await dispatcher.close();
      await database.drop();
    },
  };
}
