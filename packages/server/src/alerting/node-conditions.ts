import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { type AlertCondition, type AlertFinding, DAY_MS, within } from './alert-condition.ts';

/**
 * Conditions of this process, evaluated on every node by a timer (they must work while the database is
 * away: that is one of them).
 */

const PING_TIMEOUT_MS = 5000;

/** The database does not answer a `select 1` within five seconds. */
export function databaseCondition(ping: () => Promise<void>): AlertCondition {
  return {
    name: 'database_unreachable',
    scope: 'node',
    severity: 'critical',
    async evaluate() {
      try {
        await within(PING_TIMEOUT_MS, ping());
        return [];
      } catch {
        return [{ summary: `The database did not answer a ping within ${PING_TIMEOUT_MS / 1000} s.` }];
      }
    },
  };
}

/** Redis (when configured) does not answer a PING within five seconds. */
export function redisCondition(ping: () => Promise<unknown>): AlertCondition {
  return {
    name: 'redis_down',
    scope: 'node',
    severity: 'critical',
    async evaluate() {
      try {
        await within(PING_TIMEOUT_MS, ping());
        return [];
      } catch {
        return [
          {
            summary: `Redis did not answer a PING within ${PING_TIMEOUT_MS / 1000} s: fan-out, presence and rate limits across nodes are degraded.`,
          },
        ];
      }
    },
  };
}

/** The certificate this node serves expires within `days` (or cannot be read). */
export function certificateCondition(certFile: string, days: number): AlertCondition {
  return {
    name: 'certificate_expiring',
    scope: 'node',
    severity: 'critical',
    async evaluate(now) {
      let notAfter: number;
      try {
        notAfter = new Date(new X509Certificate(await readFile(certFile)).validTo).getTime();
      } catch {
        return [{ summary: 'The TLS certificate file cannot be read or parsed.' }];
      }
      if (notAfter - now > days * DAY_MS) return [];
      const left = Math.floor((notAfter - now) / DAY_MS);
      return [
        {
          summary:
            notAfter <= now
              ? `The TLS certificate expired at ${new Date(notAfter).toISOString()}.`
              : `The TLS certificate expires at ${new Date(notAfter).toISOString()} (in ${left} days; alert threshold ${days} days).`,
        },
      ];
    },
  };
}

/**
 * The event loop's 99th percentile delay since the last evaluation is above `thresholdMs`: every request and
 * frame on this node waits that long. `close` stops the sampling.
 */
export function eventLoopLagCondition(thresholdMs: number): AlertCondition & { close(): void } {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  histogram.enable();
  return {
    name: 'event_loop_lag',
    scope: 'node',
    severity: 'warning',
    evaluate() {
      const p99Ms = histogram.percentile(99) / 1e6;
      histogram.reset();
      const findings: AlertFinding[] =
        p99Ms > thresholdMs
          ? [
              {
                summary: `Event loop delay p99 was ${Math.round(p99Ms)} ms since the last check (threshold ${thresholdMs} ms).`,
              },
            ]
          : [];
      return Promise.resolve(findings);
    },
    close() {
      histogram.disable();
    },
  };
}

/**
 * Chains the last audit checkpoint pass on this node refused to sign because their unsigned tail does not
 * verify (tampering, or corruption). Pushed by the checkpoint timer through `report`; one alert per chain.
 */
export function auditChainCondition(): AlertCondition & {
  report(refusedTenantIds: readonly string[]): void;
} {
  let refused: readonly string[] = [];
  return {
    name: 'audit_chain_unverified',
    scope: 'node',
    severity: 'critical',
    evaluate() {
      return Promise.resolve(
        refused.map((tenantId) => ({
          subject: tenantId,
          summary: `The audit chain of tenant ${tenantId} does not verify after its last checkpoint, so it is not signed: run \`parley audit verify\`.`,
        })),
      );
    },
    report(tenantIds) {
      refused = [...tenantIds];
    },
  };
}
