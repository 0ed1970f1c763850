/** One dependency the node needs to serve traffic (database, Redis). */
export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

export interface ReadinessReport {
  ok: boolean;
  checks: Record<string, { ok: boolean; latencyMs: number }>;
}

/** Runs every check concurrently, each bounded by `timeoutMs`, so a hung dependency reads as down. */
export async function checkReadiness(
  checks: readonly HealthCheck[],
  timeoutMs = 2000,
): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (dependency) => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error('timeout'));
        }, timeoutMs);
      });
      const ok = await Promise.race([dependency.check(), timeout]).then(
        () => true,
        () => false,
      );
      clearTimeout(timer);
      return [
        dependency.name,
        { ok, latencyMs: Math.round((performance.now() - started) * 100) / 100 },
      ] as const;
    }),
  );
  return { ok: results.every(([, result]) => result.ok), checks: Object.fromEntries(results) };
}
