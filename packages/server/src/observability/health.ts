import { constants } from 'node:fs';
import { access } from 'node:fs/promises';

/** One dependency the node needs to serve traffic (database, Redis, the master key file). */
export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

/**
 * What `/readyz` tells about one dependency: up or not, how long the check took, and for a failed one only
 * whether it failed or did not answer in time. Never the error itself: a driver's message can name hosts,
 * users, paths or versions, none of which an anonymous caller needs.
 */
export interface CheckResult {
  ok: boolean;
  latencyMs: number;
  reason?: 'failed' | 'timeout';
}

export interface ReadinessReport {
  ok: boolean;
  checks: Record<string, CheckResult>;
}

/** A check that does not answer within this time reads as down (docs/monitoring.md, "Health"). */
export const READINESS_TIMEOUT_MS = 2000;

/**
 * Runs every check concurrently, each bounded by `timeoutMs`, so a hung dependency reads as down. Nothing
 * is cached: every call asks again, so a dependency that came back reads as up on the next call.
 */
export async function checkReadiness(
  checks: readonly HealthCheck[],
  timeoutMs = READINESS_TIMEOUT_MS,
): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (dependency): Promise<readonly [string, CheckResult]> => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => {
          resolve('timeout');
        }, timeoutMs);
      });
      const outcome = await Promise.race([
        dependency.check().then(
          () => 'ok' as const,
          () => 'failed' as const,
        ),
        timeout,
      ]);
      clearTimeout(timer);
      const latencyMs = Math.round((performance.now() - started) * 100) / 100;
      return [
        dependency.name,
        outcome === 'ok' ? { ok: true, latencyMs } : { ok: false, latencyMs, reason: outcome },
      ];
    }),
  );
  return { ok: results.every(([, result]) => result.ok), checks: Object.fromEntries(results) };
}

/**
 * The master key file is still there and readable. The keyring holds the keys in memory, but the file is
 * what a rotation, a new tenant key after a rotation by the CLI, and the next start read: a node whose file
 * went missing (a bad deploy, a volume not mounted) must say so before it is needed.
 */
export function keyFileCheck(file: string): HealthCheck {
  return { name: 'keyFile', check: () => access(file, constants.R_OK) };
}
