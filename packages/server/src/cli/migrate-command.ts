import { Command } from 'commander';
import { withCliStorage } from './cli-storage.ts';

export function migrateCommand(): Command {
  return new Command('migrate').description('Apply pending database migrations').action(async () => {
    await withCliStorage(async (storage) => {
      const version = await storage.kysely
        .selectFrom('kysely_migration' as never)
        .select('name' as never)
        .execute();
      process.stdout.write(
        `${JSON.stringify({ dialect: storage.dialect, applied: version.map((row) => (row as { name: string }).name) })}\n`,
      );
    });
  });
}
