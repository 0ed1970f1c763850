import { execFileSync } from 'node:child_process';
import { describe, it } from 'vitest';
import { missingClusterBinaries } from './postgres-cluster.ts';

function missingTools(): string | undefined {
  try {
    execFileSync('pgbackrest', ['version'], { stdio: 'ignore' });
  } catch {
    return 'pgbackrest not found (install it with: apt-get install -y pgbackrest)';
  }
  return missingClusterBinaries();
}

/**
 * Runs `suite` when pgBackRest and PostgreSQL's server binaries are installed. Outside CI a missing tool skips
 * it with one printed line; with CI=true it fails, because a skipped suite there would hide a regression.
 */
export function describePgbackrest(title: string, suite: () => void): void {
  const reason = missingTools();
  if (reason === undefined) {
    describe(`${title} [pgbackrest]`, suite);
    return;
  }
  if (process.env.CI === 'true') {
    describe(`${title} [pgbackrest]`, () => {
      it('has pgbackrest and initdb (CI=true)', () => {
        throw new Error(`CI=true and the pgBackRest suite cannot run: ${reason}`);
      });
    });
    return;
  }
  process.stdout.write(`SKIPPING the pgBackRest suite: ${reason}\n`);
  describe.skip(`${title} [pgbackrest]`, suite);
}
