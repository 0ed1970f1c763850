import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { scrubString, scrubUrl, scrubValue } from './log-scrubber.ts';

export type { Logger };

interface SerializableRequest {
  id?: string;
  method?: string;
  url?: string;
  raw?: { url?: string; method?: string };
}

interface SerializableReply {
  statusCode?: number;
  raw?: { statusCode?: number };
}

/**
 * JSON logs with redaction. Structured paths are censored by pino; every other string is scrubbed for
 * tokens, e-mail addresses and phone numbers. Client IPs and user agents are personal data and are left
 * to the audit log, which encrypts them. With `nodeId`, every line names the node that wrote it.
 */
export function createLogger(level: string, destination?: DestinationStream, nodeId?: string): Logger {
  const options: LoggerOptions = {
    level,
    base: nodeId === undefined ? undefined : { nodeId },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["proxy-authorization"]',
        'res.headers["set-cookie"]',
      ],
      censor: '[REDACTED]',
    },
    serializers: {
      req: (req: SerializableRequest) => ({
        method: req.method ?? req.raw?.method,
        url: scrubUrl(req.url ?? req.raw?.url ?? ''),
      }),
      res: (res: SerializableReply) => ({ statusCode: res.statusCode ?? res.raw?.statusCode }),
      err: (err: Error & { code?: string; statusCode?: number }) => ({
        type: err.name,
        code: err.code,
        statusCode: err.statusCode,
        message: scrubString(err.message),
        stack: err.stack === undefined ? undefined : scrubString(err.stack),
      }),
    },
    formatters: {
      log: (object) => scrubValue(object) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((arg: unknown) => (typeof arg === 'string' ? scrubString(arg) : arg));
        method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
