import { postgresUnavailable } from './postgres-probe.js';
import type { BenchStorage } from './server-process.js';

const isBenchStorage = (name: string): name is BenchStorage => name === 'sqlite' || name === 'postgres+redis';

/**
 * Runs a server-process bench part on each storage named (`variable` is the environment variable they came
 * from, for the error), skipping PostgreSQL + Redis with a printed reason when PostgreSQL is unreachable.
 */
export async function runOnStorages(
  part: string,
  variable: string,
  names: readonly string[],
  postgresUrl: string,
  bench: (storage: BenchStorage) => Promise<Record<string, number>>,
): Promise<Record<string, number>> {
  const storages = names.filter(isBenchStorage);
  if (storages.length !== names.length) throw new Error(`${variable}: choose from sqlite, postgres+redis`);
  const figures: Record<string, number> = {};
  for (const storage of storages) {
    if (storage === 'postgres+redis') {
      const unavailable = await postgresUnavailable(postgresUrl);
      if (unavailable !== undefined) {
        console.log(`${part}: skipping PostgreSQL (unreachable: ${unavailable})`);
        continue;
      }
    }
    const started = Date.now();
    Object.assign(figures, await bench(storage));
    console.log(`${part}: ${storage} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  return figures;
}
