import { request } from 'node:https';
import type { AnchorLine } from './audit-anchor-file.ts';

export interface AnchorWebhookOptions {
  /** An `https:` URL of the operator's receiver. */
  url: string;
  /** Extra trusted CA certificates (PEM), for a receiver with a private CA; default: the system's. */
  ca?: string | undefined;
  /** Tries per batch (default 5), waiting `retryDelayMs` (default 1000), doubled after each failure. */
  attempts?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
  /** Called when a batch was not delivered after every try (log it: the copy outside is now missing). */
  onGiveUp: (error: unknown) => void;
}

/**
 * The external copy of the anchors: each batch of anchor lines is POSTed as JSON (`{ "anchors": [...] }`)
 * to the operator's webhook, retried with backoff. Someone holding the master key and the data dir could
 * rewrite both the database and the anchor file consistently; they cannot recall what this receiver got.
 * Delivery runs in the background: it never holds up a checkpoint.
 */
export function createAnchorWebhook(options: AnchorWebhookOptions) {
  const url = new URL(options.url);
  if (url.protocol !== 'https:') throw new TypeError('the audit anchor webhook must be an https: URL');
  const attempts = options.attempts ?? 5;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const pending = new Set<Promise<void>>();

  async function deliver(lines: readonly AnchorLine[]): Promise<void> {
    const body = JSON.stringify({ anchors: lines });
    let delay = retryDelayMs;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await post(url, body, options);
        return;
      } catch (error) {
        if (attempt >= attempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay *= 2;
      }
    }
  }

  return {
    send(lines: readonly AnchorLine[]): void {
      if (lines.length === 0) return;
      const delivery: Promise<void> = deliver(lines)
        .catch(options.onGiveUp)
        .finally(() => pending.delete(delivery));
      pending.add(delivery);
    },

    /** Resolves once every delivery under way has succeeded or given up (shutdown waits for it). */
    async idle(): Promise<void> {
      await Promise.all([...pending]);
    },
  };
}

export type AnchorWebhook = ReturnType<typeof createAnchorWebhook>;

function post(url: URL, body: string, options: AnchorWebhookOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: options.timeoutMs ?? 10_000,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else reject(new Error(`the audit anchor webhook answered ${status}`));
      },
    );
    req.on('timeout', () => req.destroy(new Error('the audit anchor webhook timed out')));
    req.on('error', reject);
    req.end(body);
  });
}
