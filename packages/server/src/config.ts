import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * One declaration per setting: its environment variable, zod schema (with the default), and a description.
 * The README configuration table is generated from this list (`npx parley config table`) and a test keeps
 * the two equal.
 */
interface SettingDeclaration<S extends z.ZodType> {
  env: string;
  schema: S;
  /** How the default reads in the docs when it is computed rather than a literal. */
  defaultText?: string;
  description: string;
}

const setting = <S extends z.ZodType>(declaration: SettingDeclaration<S>): SettingDeclaration<S> =>
  declaration;

const port = z.coerce
  .number({ error: 'must be a whole number' })
  .int('must be a whole number')
  .min(0, 'must be between 0 and 65535')
  .max(65535, 'must be between 0 and 65535');
const positiveInt = z.coerce
  .number({ error: 'must be a whole number' })
  .int('must be a whole number')
  .positive('must be greater than 0');

/** A comma-separated list (in the config file also a JSON array) of URIs, each matching `pattern`. */
const uriList = (pattern: RegExp, message: string) =>
  z
    .union([z.string(), z.array(z.string())])
    .default([])
    .transform((value) =>
      (typeof value === 'string' ? value.split(',') : value).map((uri) => uri.trim()).filter(Boolean),
    )
    .pipe(z.array(z.string().regex(pattern, message)).max(16, 'at most 16 URIs'));
/**
 * A web origin as browsers send it in `Origin`: `http(s)://host[:port]`, lower case, no default port, no
 * path. Anything else could never match, so it is refused with the form that would.
 */
function originProblem(entry: string): string | undefined {
  let origin: string;
  try {
    origin = new URL(entry).origin;
  } catch {
    return `"${entry}" is not an origin (scheme://host[:port])`;
  }
  if (!/^https?:\/\//.test(origin)) return `"${entry}" is not an http:// or https:// origin`;
  return origin === entry ? undefined : `"${entry}" is not an origin: write "${origin}"`;
}

/** Comma-separated origins (in the config file also a JSON array), or `*` alone. */
const originList = z
  .union([z.string(), z.array(z.string())])
  .default([])
  .transform((value) =>
    (typeof value === 'string' ? value.split(',') : value).map((entry) => entry.trim()).filter(Boolean),
  )
  .pipe(
    z
      .array(z.string())
      .max(100, 'at most 100 origins')
      .superRefine((entries, context) => {
        if (entries.includes('*') && entries.length > 1) {
          context.addIssue({ code: 'custom', message: '`*` stands alone, not beside other origins' });
          return;
        }
        for (const entry of entries) {
          const problem = entry === '*' ? undefined : originProblem(entry);
          if (problem) context.addIssue({ code: 'custom', message: problem });
        }
      }),
  );

const booleanSetting = z.union([z.boolean(), z.stringbool()], { error: 'must be true or false' });

/** RFC 7064 / 7065 host part: a name, an IPv4 address or a bracketed IPv6 address, then an optional port. */
const iceHost = String.raw`(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?`;

export const settings = {
  dataDir: setting({
    env: 'PARLEY_DATA_DIR',
    schema: z.string().min(1).default('./data'),
    description: 'Directory for the embedded database, generated keys and certificates (created 0700).',
  }),
  host: setting({
    env: 'PARLEY_HOST',
    schema: z.string().min(1).default('0.0.0.0'),
    description: 'Address to listen on.',
  }),
  port: setting({
    env: 'PARLEY_PORT',
    schema: port.default(8443),
    description: 'Port for HTTPS and WSS (0 picks a free port).',
  }),
  databaseUrl: setting({
    env: 'DATABASE_URL',
    schema: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    defaultText: 'unset (embedded SQLite)',
    description: 'PostgreSQL connection URL. Unset = embedded SQLite at `<data dir>/parley.db`.',
  }),
  databaseSchema: setting({
    env: 'PARLEY_DATABASE_SCHEMA',
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
      .default('public'),
    description: 'PostgreSQL schema that holds Parley tables.',
  }),
  databasePoolSize: setting({
    env: 'PARLEY_DATABASE_POOL_SIZE',
    schema: positiveInt.max(500).default(10),
    description: 'Maximum PostgreSQL connections per node.',
  }),
  databaseAcquireTimeoutMs: setting({
    env: 'PARLEY_DATABASE_ACQUIRE_TIMEOUT_MS',
    schema: positiveInt.max(600_000).default(5000),
    description:
      'How long a request waits for a PostgreSQL connection (all busy, or the database not answering) before it is answered 503 with Retry-After.',
  }),
  redisUrl: setting({
    env: 'REDIS_URL',
    schema: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
    defaultText: 'unset (in-process fan-out)',
    description: 'Redis URL for fan-out, presence and counters across nodes. Unset = in-process.',
  }),
  redisKeyPrefix: setting({
    env: 'PARLEY_REDIS_PREFIX',
    schema: z.string().min(1).max(64).default('parley:'),
    description: 'Prefix for every Redis key and channel, so several deployments can share one Redis.',
  }),
  masterKeyFile: setting({
    env: 'PARLEY_MASTER_KEY_FILE',
    schema: z.string().min(1).optional(),
    defaultText: '`<data dir>/master.key`',
    description: 'Master key (key-encryption key) file; generated with mode 0600 on first start.',
  }),
  masterKey: setting({
    env: 'PARLEY_MASTER_KEY',
    schema: z.string().min(1).optional(),
    defaultText: 'unset (use the key file)',
    description:
      'Master key from the environment instead of the file: one base64 key, or `VERSION:BASE64` pairs comma-separated.',
  }),
  erasureLogFile: setting({
    env: 'PARLEY_ERASURE_LOG_FILE',
    schema: z.string().min(1).optional(),
    defaultText: '`<data dir>/erasures.log`',
    description:
      'Register of erased users, kept outside the database (like the master key) and re-applied at start-up so a restored backup cannot revive them.',
  }),
  tlsMode: setting({
    env: 'PARLEY_TLS_MODE',
    schema: z.enum(['tls', 'behind-proxy']).default('tls'),
    description:
      '`tls` serves HTTPS/WSS itself; `behind-proxy` serves plain HTTP for a TLS-terminating proxy only.',
  }),
  tlsCert: setting({
    env: 'PARLEY_TLS_CERT',
    schema: z.string().min(1).optional(),
    defaultText: 'unset (self-signed in data dir)',
    description: 'PEM certificate chain file. Unset = a self-signed pair generated in `<data dir>/tls/`.',
  }),
  tlsKey: setting({
    env: 'PARLEY_TLS_KEY',
    schema: z.string().min(1).optional(),
    defaultText: 'unset (self-signed in data dir)',
    description: 'PEM private key file for `PARLEY_TLS_CERT`.',
  }),
  trustProxy: setting({
    env: 'PARLEY_TRUST_PROXY',
    schema: z.string().min(1).default('loopback'),
    description:
      'Proxies whose `X-Forwarded-*` headers are believed (comma-separated addresses/CIDRs or `loopback`).',
  }),
  hstsMaxAgeSeconds: setting({
    env: 'PARLEY_HSTS_MAX_AGE',
    schema: z.coerce.number().int().min(0).default(31_536_000),
    description: 'Strict-Transport-Security max-age in seconds.',
  }),
  bodyLimitBytes: setting({
    env: 'PARLEY_BODY_LIMIT_BYTES',
    schema: positiveInt.max(1024 * 1024 * 1024).default(1_048_576),
    description: 'Largest accepted JSON or form request body, in bytes.',
  }),
  shutdownGraceMs: setting({
    env: 'PARLEY_SHUTDOWN_GRACE_MS',
    schema: z.coerce.number().int().min(0).default(10_000),
    description: 'On SIGTERM, how long in-flight requests and open sockets may take to finish.',
  }),
  maxConnections: setting({
    env: 'PARLEY_MAX_CONNECTIONS',
    schema: positiveInt.default(10_000),
    description:
      'Concurrent TCP connections (HTTP and WebSocket) this node accepts in all; past it new ones are closed at accept, before TLS.',
  }),
  maxConnectionsPerAddress: setting({
    env: 'PARLEY_MAX_CONNECTIONS_PER_ADDRESS',
    schema: positiveInt.default(128),
    description:
      'Concurrent TCP connections from one client address (IPv6: one /64), closed at accept past it. Behind a proxy the address is the proxy’s: raise it there.',
  }),
  tlsHandshakeTimeoutMs: setting({
    env: 'PARLEY_TLS_HANDSHAKE_TIMEOUT_MS',
    schema: positiveInt.default(10_000),
    description: 'A TLS handshake not finished in this time is cut.',
  }),
  headersTimeoutMs: setting({
    env: 'PARLEY_HEADERS_TIMEOUT_MS',
    schema: positiveInt.default(10_000),
    description:
      'A new connection must send its request headers within this time (slow headers, silent connections): 408, closed.',
  }),
  requestTimeoutMs: setting({
    env: 'PARLEY_REQUEST_TIMEOUT_MS',
    schema: positiveInt.default(300_000),
    description:
      'A whole request (headers and body, e.g. an attachment upload) must arrive within this time: 408, closed.',
  }),
  keepAliveTimeoutMs: setting({
    env: 'PARLEY_KEEP_ALIVE_TIMEOUT_MS',
    schema: positiveInt.default(5_000),
    description: 'An idle keep-alive connection is closed after this time between requests.',
  }),
  idleTimeoutMs: setting({
    env: 'PARLEY_IDLE_TIMEOUT_MS',
    schema: positiveInt.default(30_000),
    description:
      'An HTTP connection on which no byte moves either way for this long is closed (stalled body or reader). Not WebSockets.',
  }),
  reencryptIntervalSeconds: setting({
    env: 'PARLEY_REENCRYPT_INTERVAL_SECONDS',
    schema: positiveInt.default(60),
    description: 'How often the background job moves data onto a rotated tenant data key.',
  }),
  auditCheckpointIntervalSeconds: setting({
    env: 'PARLEY_AUDIT_CHECKPOINT_INTERVAL_SECONDS',
    schema: z.coerce.number().int().min(0).max(86_400).default(60),
    description:
      'A background job runs this often and signs an audit checkpoint for every chain with entries older than this after its last checkpoint. 0 turns it off (then only every 100th entry is signed).',
  }),
  accessLogFlushMs: setting({
    env: 'PARLEY_ACCESS_LOG_FLUSH_MS',
    schema: z.coerce.number().int().min(100).max(60_000).default(1000),
    description:
      'Where a tenant logs who read what (HIPAA access logging), each node writes the reads it served in one batch this often; a crash (not a shutdown) can lose at most this many milliseconds of records.',
  }),
  auditAnchorFile: setting({
    env: 'PARLEY_AUDIT_ANCHOR_FILE',
    schema: z.string().min(1).optional(),
    defaultText: '`<data dir>/audit-anchors.log`',
    description:
      'Append-only file of signed audit chain heads, kept outside the database so `parley audit verify` detects a cut, rolled-back or deleted chain. One per node: never shared by two nodes (see docs/security.md).',
  }),
  auditAnchorWebhookUrl: setting({
    env: 'PARLEY_AUDIT_ANCHOR_WEBHOOK_URL',
    schema: z.url({ protocol: /^https$/, error: 'must be an https:// URL' }).optional(),
    defaultText: 'unset (no external copy)',
    description:
      'Operator HTTPS endpoint that receives a copy of every audit anchor (JSON POST, retried), out of reach of whoever holds the server.',
  }),
  realtimeMaxFrameBytes: setting({
    env: 'PARLEY_REALTIME_MAX_FRAME_BYTES',
    schema: positiveInt.max(16 * 1024 * 1024).default(131_072),
    description: 'Largest realtime frame; a larger one closes the socket (1009).',
  }),
  realtimeFramesPerSecond: setting({
    env: 'PARLEY_REALTIME_FRAMES_PER_SECOND',
    schema: positiveInt.max(10_000).default(50),
    description:
      'Per-socket frame rate (burst: twice this); excess frames are refused, abuse closes the socket (4029).',
  }),
  signInIpCeiling: setting({
    env: 'PARLEY_SIGNIN_IP_CEILING',
    schema: positiveInt.max(1_000_000).default(500),
    description:
      "Failed sign-ins one client address may make across all tenants per 15 minutes (each tenant's own per-address limit, 50 by default, applies first); past it every sign-in from the address is refused (429).",
  }),
  sendRatePerSecond: setting({
    env: 'PARLEY_SEND_RATE_PER_SECOND',
    schema: positiveInt.max(1_000_000).default(10),
    description:
      'Per user and node: message tokens refilled per second; a send or an edit costs 1 plus 1 per 4 KiB of text. Excess: 429 rate_limited.',
  }),
  sendBurst: setting({
    env: 'PARLEY_SEND_BURST',
    schema: positiveInt.min(20).max(1_000_000).default(40),
    description:
      'Per user and node: message tokens a user may spend at once (at least 20, so the largest message fits).',
  }),
  realtimeAuthTimeoutMs: setting({
    env: 'PARLEY_REALTIME_AUTH_TIMEOUT_MS',
    schema: positiveInt.default(10_000),
    description: 'How long a new realtime socket may take to send its auth frame (4008 after).',
  }),
  stunUrls: setting({
    env: 'PARLEY_STUN_URLS',
    schema: uriList(new RegExp(`^stuns?:${iceHost}$`), 'each must be stun:host[:port] or stuns:host[:port]'),
    defaultText: 'unset (none)',
    description:
      'STUN servers for callers (comma-separated `stun:host:port`). None by default: a public one would learn every caller’s address.',
  }),
  turnUrls: setting({
    env: 'PARLEY_TURN_URLS',
    schema: uriList(
      new RegExp(`^turns?:${iceHost}(\\?transport=(udp|tcp))?$`),
      'each must be turn:host[:port][?transport=udp|tcp] or turns:…',
    ),
    defaultText: 'unset (no TURN)',
    description:
      'TURN servers for callers, with short-lived credentials (comma-separated `turn:host:3478?transport=udp`, `turns:…`). See docs/calls.md.',
  }),
  turnSecret: setting({
    env: 'PARLEY_TURN_SECRET',
    schema: z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -hex 32`)').optional(),
    defaultText: 'unset',
    description:
      'Secret shared with the TURN server (coturn `static-auth-secret`) that signs TURN credentials; 32+ characters. Never logged.',
  }),
  turnTtlSeconds: setting({
    env: 'PARLEY_TURN_TTL_SECONDS',
    schema: positiveInt.min(60, 'must be at least 60').max(86_400, 'must be at most 86400').default(3600),
    description:
      'Lifetime of minted TURN credentials: how long they can open new relay allocations (one already open lives on).',
  }),
  callRingTimeoutMs: setting({
    env: 'PARLEY_CALL_RING_TIMEOUT_MS',
    schema: positiveInt
      .min(1000, 'must be at least 1000')
      .max(300_000, 'must be at most 300000')
      .default(45_000),
    description: 'How long a call rings before those who did not answer have missed it.',
  }),
  corsOrigins: setting({
    env: 'PARLEY_CORS_ORIGINS',
    schema: originList,
    defaultText: 'unset (no CORS)',
    description:
      'Web origins whose browser apps may call the API (comma-separated, exact: `https://app.example.com`), or `*` for any. Unset = no CORS headers: browsers let only same-origin pages read answers. See docs/deployment.md.',
  }),
  corsCredentials: setting({
    env: 'PARLEY_CORS_CREDENTIALS',
    schema: booleanSetting.default(false),
    description:
      'Send `Access-Control-Allow-Credentials: true` to listed origins. Not needed for bearer tokens (the API uses no cookies); refused with `*`.',
  }),
  corsMaxAgeSeconds: setting({
    env: 'PARLEY_CORS_MAX_AGE',
    schema: z.coerce
      .number({ error: 'must be a whole number' })
      .int('must be a whole number')
      .min(0, 'must be between 0 and 86400')
      .max(86_400, 'must be between 0 and 86400')
      .default(600),
    description:
      'How long browsers may cache a CORS preflight answer, in seconds (Chromium caps it at 7200).',
  }),
  nodeId: setting({
    env: 'PARLEY_NODE_ID',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters of A-Z, a-z, 0-9, ".", "_" and "-"')
      .optional(),
    defaultText: '`<hostname>-<6 hex>`, new each start',
    description: 'Name of this node in every log line, to tell the nodes of a deployment apart.',
  }),
  jobPollIntervalMs: setting({
    env: 'PARLEY_JOB_POLL_INTERVAL_MS',
    schema: positiveInt.min(100, 'must be at least 100').max(10_000, 'must be at most 10000').default(2_000),
    description:
      'How often each node looks for due background jobs and scheduled tasks and renews its hold on those it runs (docs/jobs.md).',
  }),
  jobLeaseSeconds: setting({
    env: 'PARLEY_JOB_LEASE_SECONDS',
    schema: positiveInt.min(30, 'must be at least 30').max(3_600, 'must be at most 3600').default(60),
    description:
      "How long after a node stops renewing (it died) another node takes over its scheduled tasks and running jobs, resuming from their last checkpoint. The nodes' clocks must agree to well within it.",
  }),
  jobConcurrency: setting({
    env: 'PARLEY_JOB_CONCURRENCY',
    schema: positiveInt.max(64, 'must be at most 64').default(2),
    description: 'Background jobs (exports, purges, backups) one node runs at once.',
  }),
  metricsEnabled: setting({
    env: 'PARLEY_METRICS_ENABLED',
    schema: booleanSetting.default(true),
    description:
      'Serve Prometheus metrics at `/metrics` on a listener of their own, apart from the API (docs/monitoring.md).',
  }),
  metricsHost: setting({
    env: 'PARLEY_METRICS_HOST',
    schema: z.string().min(1).default('127.0.0.1'),
    description:
      'Address of the metrics listener: loopback by default. Any other address needs `PARLEY_METRICS_TOKEN`.',
  }),
  metricsPort: setting({
    env: 'PARLEY_METRICS_PORT',
    schema: port.default(9464),
    description: 'Port of the metrics listener (plain HTTP; 0 picks a free port).',
  }),
  metricsToken: setting({
    env: 'PARLEY_METRICS_TOKEN',
    schema: z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -hex 32`)').optional(),
    defaultText: 'unset (no token)',
    description:
      'Bearer token a scrape must send (Prometheus `authorization.credentials`); 32+ characters, compared in constant time. Never logged.',
  }),
  metricsTenantLabels: setting({
    env: 'PARLEY_METRICS_TENANT_LABELS',
    schema: booleanSetting.default(false),
    description:
      'Label the per-tenant compliance gauges (audit tails, data-subject requests) with the tenant id. Off: summed over tenants. Never names or user ids.',
  }),
  tracing: setting({
    env: 'PARLEY_TRACING',
    schema: booleanSetting.default(false),
    description:
      'Export OpenTelemetry spans of HTTP requests, realtime frames and database transactions over OTLP/HTTP (docs/monitoring.md, Tracing). Off: no span is made.',
  }),
  tracingEndpoint: setting({
    env: 'PARLEY_OTEL_EXPORTER_OTLP_ENDPOINT',
    schema: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    defaultText: 'unset',
    description:
      'Base URL of the OTLP/HTTP collector (`/v1/traces` is appended). Unset: the standard `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://localhost:4318`.',
  }),
  tracingSampleRatio: setting({
    env: 'PARLEY_TRACING_SAMPLE_RATIO',
    schema: z.coerce
      .number({ error: 'must be a number between 0 and 1' })
      .min(0, 'must be between 0 and 1')
      .max(1, 'must be between 0 and 1')
      .default(1),
    description:
      "Share of traces started here that are recorded (0 to 1). A request carrying a `traceparent` follows its caller's sampling decision.",
  }),
  logLevel: setting({
    env: 'PARLEY_LOG_LEVEL',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    description: 'Log level (JSON logs on stdout).',
  }),
  securityContact: setting({
    env: 'PARLEY_SECURITY_CONTACT',
    schema: z
      .string()
      .regex(/^(mailto:|https:\/\/|tel:)/, 'must start with mailto:, https:// or tel:')
      .default('mailto:security@localhost'),
    description: 'Contact URI published in `/.well-known/security.txt` (RFC 9116).',
  }),
  securityTxtExpires: setting({
    env: 'PARLEY_SECURITY_TXT_EXPIRES',
    schema: z.iso.datetime({ offset: true }).optional(),
    defaultText: 'start time + 180 days',
    description: 'Expires date published in `/.well-known/security.txt` (ISO 8601).',
  }),
  setupTokenTtlSeconds: setting({
    env: 'PARLEY_SETUP_TOKEN_TTL_SECONDS',
    schema: positiveInt.default(86_400),
    description: 'Lifetime of the one-time owner setup token printed by `parley tenant create`.',
  }),
  smtpUrl: setting({
    env: 'PARLEY_SMTP_URL',
    schema: z
      .string()
      .regex(
        /^smtps?:\/\/[^\s?#]+(\?tls=(starttls|off))?$/,
        'must be smtp://[user:pass@]host[:port][?tls=starttls|off] or smtps://…',
      )
      .optional(),
    defaultText: 'unset (embedded outbox)',
    description:
      'SMTP relay: `smtps://` = implicit TLS, `smtp://` = STARTTLS required, `?tls=off` = plain (same-host relay only). Unset = admin-read outbox.',
  }),
  mailFrom: setting({
    env: 'PARLEY_MAIL_FROM',
    schema: z.string().min(3).max(320).default('Parley <no-reply@localhost>'),
    description: 'The `From` of every e-mail Parley sends.',
  }),
  publicUrl: setting({
    env: 'PARLEY_PUBLIC_URL',
    schema: z
      .string()
      .regex(/^https?:\/\/[^\s?#]+$/, 'must be an http:// or https:// URL without query or fragment')
      .optional(),
    defaultText: "the server's own URL",
    description:
      'Base URL of the links in e-mails (password reset, address verification). Never taken from request headers.',
  }),
  alerts: setting({
    env: 'PARLEY_ALERTS',
    schema: booleanSetting.default(true),
    description:
      'Embedded alerting: the server checks critical conditions itself and notifies operators (docs/monitoring.md). `false` turns it off.',
  }),
  alertEmail: setting({
    env: 'PARLEY_ALERT_EMAIL',
    schema: uriList(/^[^\s@,<>]+@[^\s@,<>]+$/, 'must be e-mail addresses'),
    defaultText: 'unset (no e-mail)',
    description: 'Comma-separated operator addresses for alert e-mails; needs `PARLEY_SMTP_URL`.',
  }),
  alertWebhookUrl: setting({
    env: 'PARLEY_ALERT_WEBHOOK_URL',
    schema: z
      .string()
      .regex(
        /^(https:\/\/[^\s]+|http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/[^\s]*)?)$/,
        'must be an https:// URL (http:// only on loopback)',
      )
      .optional(),
    defaultText: 'unset (no webhook)',
    description:
      'URL that receives alert notices as signed JSON POSTs (`parley-signature` header, docs/monitoring.md).',
  }),
  alertWebhookSecret: setting({
    env: 'PARLEY_ALERT_WEBHOOK_SECRET',
    schema: z.string().min(32, 'must be at least 32 characters').optional(),
    defaultText: 'unset',
    description: 'Shared secret of the alert webhook signature (HMAC-SHA256); required with the URL.',
  }),
  alertCron: setting({
    env: 'PARLEY_ALERT_CRON',
    schema: z.string().min(9).default('* * * * *'),
    description: 'When the cluster-wide alert conditions are checked (cron, UTC; once cluster-wide).',
  }),
  alertNodeIntervalSeconds: setting({
    env: 'PARLEY_ALERT_NODE_INTERVAL_SECONDS',
    schema: positiveInt.max(3600).default(30),
    description:
      'How often each node checks its own alert conditions (database, Redis, certificate, event loop).',
  }),
  alertRepeatSeconds: setting({
    env: 'PARLEY_ALERT_REPEAT_SECONDS',
    schema: z.coerce.number().int().min(0).default(14_400),
    description: 'A still-firing alert is notified again this long after its last notice; 0 = once only.',
  }),
  alertEventLoopLagMs: setting({
    env: 'PARLEY_ALERT_EVENT_LOOP_LAG_MS',
    schema: positiveInt.default(500),
    description: 'Event-loop delay (p99 between checks) above which a node alerts.',
  }),
  alertCertificateDays: setting({
    env: 'PARLEY_ALERT_CERTIFICATE_DAYS',
    schema: positiveInt.default(14),
    description: 'Alert when the served TLS certificate expires within this many days.',
  }),
  alertDsrDays: setting({
    env: 'PARLEY_ALERT_DSR_DAYS',
    schema: positiveInt.default(5),
    description:
      'Alert when an open data subject request is due within this many days (and again once past).',
  }),
  backups: setting({
    env: 'PARLEY_BACKUPS',
    schema: booleanSetting.default(true),
    description:
      'Scheduled encrypted backups (embedded SQLite: built in; PostgreSQL: pgBackRest) (docs/backups.md); `false` turns the schedule off (`parley backup create` still works).',
  }),
  backupDir: setting({
    env: 'PARLEY_BACKUP_DIR',
    schema: z.string().min(1).optional(),
    defaultText: '`<data dir>/backups`',
    description: 'Where backups are written; best another disk or a mounted remote volume.',
  }),
  backupKeyFile: setting({
    env: 'PARLEY_BACKUP_KEY_FILE',
    schema: z.string().min(1).optional(),
    defaultText: '`<data dir>/backup.key`',
    description:
      'Backup key file (encrypts and signs backups; never inside a backup); generated with mode 0600 at the first backup. Keep it away from the data dir in production.',
  }),
  backupFullCron: setting({
    env: 'PARLEY_BACKUP_FULL_CRON',
    schema: z.string().min(9).default('0 3 * * 0'),
    description: 'When a full backup is taken (cron, UTC; once cluster-wide).',
  }),
  backupIncrementalCron: setting({
    env: 'PARLEY_BACKUP_INCREMENTAL_CRON',
    schema: z.string().min(9).default('0 3 * * 1-6'),
    description: 'When an incremental backup is taken (cron, UTC; once cluster-wide).',
  }),
  backupRetentionDays: setting({
    env: 'PARLEY_BACKUP_RETENTION_DAYS',
    schema: positiveInt.default(90),
    description:
      'Backups older than this are deleted, except a full or incremental backup that a kept backup needs.',
  }),
  pgbackrestConfigFile: setting({
    env: 'PARLEY_PGBACKREST_CONFIG_FILE',
    schema: z.string().min(1).optional(),
    defaultText: '`/etc/pgbackrest/parley.conf`',
    description:
      "PostgreSQL only: the pgBackRest configuration `parley backup configure` writes (mode 0600, owned by the cluster's owner; holds the repository cipher pass).",
  }),
  pgbackrestStanza: setting({
    env: 'PARLEY_PGBACKREST_STANZA',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - and _ only')
      .default('parley'),
    description: 'PostgreSQL only: the pgBackRest stanza (the name of this cluster in the repository).',
  }),
  pgbackrestPgPath: setting({
    env: 'PARLEY_PGBACKREST_PG_PATH',
    schema: z.string().min(1).optional(),
    defaultText: 'unset',
    description:
      "PostgreSQL only: the cluster's data directory (pgBackRest runs on the database host, as the owner of this directory); needed by `parley backup` on PostgreSQL.",
  }),
  pgbackrestPgSocketPath: setting({
    env: 'PARLEY_PGBACKREST_PG_SOCKET_PATH',
    schema: z.string().min(1).default('/var/run/postgresql'),
    description:
      "PostgreSQL only: the directory of the server's Unix socket, which pgBackRest connects through.",
  }),
  keyRotationDays: setting({
    env: 'PARLEY_KEY_ROTATION_DAYS',
    schema: positiveInt.default(365),
    description: 'Rotation period: a master, signing or tenant key in use for longer raises an alert.',
  }),
  incidentControllerHours: setting({
    env: 'PARLEY_INCIDENT_CONTROLLER_HOURS',
    schema: positiveInt.max(72, 'must be at most 72').default(24),
    description:
      'Default target, in hours from awareness, for notifying tenants (controllers) of an incident; each incident may set its own (docs/incident-response.md).',
  }),
  supportReviewDays: setting({
    env: 'PARLEY_SUPPORT_REVIEW_DAYS',
    schema: positiveInt.max(366, 'must be at most 366').default(92),
    description:
      'How often a security officer signs the periodic review of support access (days; default quarterly); past it the review is overdue in metrics and alerts (docs/security.md).',
  }),
  configFile: setting({
    env: 'PARLEY_CONFIG_FILE',
    schema: z.string().min(1).optional(),
    defaultText: 'unset',
    description:
      'Optional JSON file with any of these settings, keyed by variable name (`PARLEY_PORT`) or setting name (`port`); env vars win over it.',
  }),
} as const;

type Settings = typeof settings;
export type SettingName = keyof Settings;
export type Config = Readonly<
  { [K in SettingName]: z.output<Settings[K]['schema']> } & {
    masterKeyFile: string;
    erasureLogFile: string;
    auditAnchorFile: string;
    backupDir: string;
    backupKeyFile: string;
  }
>;

/** Thrown for an invalid setting; the CLI prints it and exits with code 2. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Loopback only: 127.0.0.0/8, ::1 and `localhost`. */
const isLoopbackHost = (host: string): boolean =>
  host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);

const settingNames = Object.keys(settings) as SettingName[];

function readConfigFile(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError([`PARLEY_CONFIG_FILE: cannot read ${file} as JSON (${(error as Error).message})`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError([`PARLEY_CONFIG_FILE: ${file} must hold a JSON object`]);
  }
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(parsed)) {
    const name = settingNameOf(key);
    if (name === undefined) {
      problems.push(
        `PARLEY_CONFIG_FILE: unknown setting "${key}" in ${file} (the names are those of \`npx parley config table\`, e.g. PARLEY_PORT or port)`,
      );
    } else if (name in values) {
      problems.push(`PARLEY_CONFIG_FILE: ${settings[name].env} is set twice in ${file} (as "${key}" too)`);
    } else {
      values[name] = value;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values;
}

/** A config file key: the environment variable's name (`PARLEY_PORT`) or the setting's (`port`). */
function settingNameOf(key: string): SettingName | undefined {
  if (settingNames.includes(key as SettingName)) return key as SettingName;
  return settingNames.find((name) => settings[name].env === key);
}

/**
 * Parses the configuration once from the environment and the optional config file (env wins), and
 * freezes it. Every problem names its environment variable and what is wrong.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const configFile = env[settings.configFile.env];
  const fromFile = configFile ? readConfigFile(configFile) : {};
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const name of settingNames) {
    const { env: envName, schema } = settings[name];
    const raw = env[envName] !== undefined && env[envName] !== '' ? env[envName] : fromFile[name];
    const result = schema.safeParse(raw);
    if (result.success) {
      values[name] = result.data;
    } else {
      const reason = result.error.issues.map((issue) => issue.message).join('; ');
      const shown = typeof raw === 'string' && !/KEY|URL|SECRET/.test(envName) ? ` (got "${raw}")` : '';
      problems.push(`${envName}: ${reason}${shown}`);
    }
  }
  if (values.tlsMode === 'tls' && Boolean(values.tlsCert) !== Boolean(values.tlsKey)) {
    problems.push('PARLEY_TLS_CERT / PARLEY_TLS_KEY: set both or neither');
  }
  if ((values.headersTimeoutMs as number) > (values.requestTimeoutMs as number)) {
    problems.push('PARLEY_HEADERS_TIMEOUT_MS: must not exceed PARLEY_REQUEST_TIMEOUT_MS');
  }
  const turnUrls = values.turnUrls as string[] | undefined;
  if (turnUrls !== undefined && turnUrls.length > 0 && values.turnSecret === undefined) {
    problems.push('PARLEY_TURN_URLS: needs PARLEY_TURN_SECRET to mint credentials');
  }
  if (values.corsCredentials === true && (values.corsOrigins as string[] | undefined)?.includes('*')) {
    problems.push(
      'PARLEY_CORS_ORIGINS: `*` cannot be combined with PARLEY_CORS_CREDENTIALS=true (browsers refuse it, and it would let any site send credentials); list the origins',
    );
  }
  if (
    values.metricsEnabled === true &&
    values.metricsToken === undefined &&
    !isLoopbackHost(values.metricsHost as string)
  ) {
    problems.push(
      'PARLEY_METRICS_HOST: a metrics listener off loopback needs PARLEY_METRICS_TOKEN (metrics tell an outsider too much)',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const dataDir = path.resolve(values.dataDir as string);
  return Object.freeze({
    ...values,
    dataDir,
    masterKeyFile: path.resolve(
      (values.masterKeyFile as string | undefined) ?? path.join(dataDir, 'master.key'),
    ),
    erasureLogFile: path.resolve(
      (values.erasureLogFile as string | undefined) ?? path.join(dataDir, 'erasures.log'),
    ),
    auditAnchorFile: path.resolve(
      (values.auditAnchorFile as string | undefined) ?? path.join(dataDir, 'audit-anchors.log'),
    ),
    backupDir: path.resolve((values.backupDir as string | undefined) ?? path.join(dataDir, 'backups')),
    backupKeyFile: path.resolve(
      (values.backupKeyFile as string | undefined) ?? path.join(dataDir, 'backup.key'),
    ),
  }) as Config;
}

/** The README configuration table, generated from the declarations above. */
export function configTableMarkdown(): string {
  const rows = settingNames.map((name) => {
    const { env, schema, defaultText, description } = settings[name];
    const parsedDefault: unknown = defaultText === undefined ? schema.safeParse(undefined).data : undefined;
    const shownDefault = defaultText ?? `\`${String(parsedDefault)}\``;
    return `| \`${env}\` | ${shownDefault} | ${description} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
