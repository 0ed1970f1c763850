import { Command, InvalidArgumentError } from 'commander';
import type { SearchIndex } from '../messaging/search/search-index.ts';
import { allTenantIds, recordCliAccess } from './cli-access-record.ts';
import { withCliSecurity } from './cli-storage.ts';

const positiveInteger = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1 || parsed > 10_000)
    throw new InvalidArgumentError('must be a whole number from 1 to 10000');
  return parsed;
};

/**
 * `parley search reindex [--tenant ID] [--batch N] [--rebuild]`: indexes every visible message that has no
 * search entry (sent before migration 0007, or its entry lost) — with `--rebuild`, every visible message —
 * in short transactions; safe while the server runs, and safe to repeat or resume. Prints one JSON line of
 * counts per tenant, never message content.
 */
export function searchCommand(): Command {
  const search = new Command('search').description('Maintain the message search index');
  search
    .command('reindex')
    .description('Index every visible message that has no search entry (idempotent, resumable)')
    .option('--tenant <id>', 'tenant id (default: every tenant)')
    .option('--batch <n>', 'messages per transaction', positiveInteger, 500)
    .option('--rebuild', 're-index every visible message, not only those without an entry')
    .action(async ({ tenant, batch, rebuild }: { tenant?: string; batch: number; rebuild?: boolean }) => {
      // Loaded on use, not at start-up: `parley --help` and the other commands need none of it.
      const [{ PostgresSearchIndex }, { createSearchReindex }, { SearchTokenHasher }, { SqliteSearchIndex }] =
        await Promise.all([
          import('../messaging/search/postgres-search-index.ts'),
          import('../messaging/search/search-reindex.ts'),
          import('../messaging/search/search-token-hasher.ts'),
          import('../messaging/search/sqlite-search-index.ts'),
        ]);
      await withCliSecurity(async (storage, security) => {
        const hasher = new SearchTokenHasher(security.keyring);
        const index: SearchIndex =
          storage.dialect === 'postgres' ? new PostgresSearchIndex(hasher) : new SqliteSearchIndex(hasher);
        const reindexTenant = createSearchReindex({ storage, index, fieldCipher: security.fieldCipher });
        const tenantIds = tenant === undefined ? await allTenantIds(storage) : [tenant];
        await recordCliAccess(storage, security, 'search reindex', tenantIds);
        for (const tenantId of tenantIds)
          process.stdout.write(
            `${JSON.stringify(await reindexTenant(tenantId, { batchSize: batch, rebuild: rebuild === true }))}\n`,
          );
      });
    });
  return search;
}
