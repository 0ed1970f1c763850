import { Command, Option } from 'commander';
import { systemClock } from '../clock.ts';
import { loadConfig } from '../config.ts';
import { withCliStorage } from './cli-storage.ts';

const printJson = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

/** Backups are of the embedded database; PostgreSQL is backed up with its own tools (docs/backups.md). */
function refusePostgres(databaseUrl: string | undefined): void {
  if (databaseUrl !== undefined) {
    throw new Error(
      'parley backup covers the embedded SQLite database; PostgreSQL support (pgBackRest) is not built yet: see docs/backups.md',
    );
  }
}

/**
 * `parley backup create|list|verify|restore` (docs/backups.md). Every module is loaded on use: `parley
 * --help` and the other commands need none of it. Failures are BackupErrors whose message says what to fix;
 * main.ts prints it and exits 1.
 */
export function backupCommand(): Command {
  const backup = new Command('backup').description('Encrypted backups of the embedded database');
  backup
    .command('create')
    .description('Take a backup now (the server may keep running)')
    .addOption(new Option('--full', 'a full backup (the default)').conflicts('incremental'))
    .addOption(new Option('--incremental', 'only the pages changed since the previous backup'))
    .action(async ({ incremental }: { full?: boolean; incremental?: boolean }) => {
      refusePostgres(loadConfig().databaseUrl);
      const { backupServiceFor } = await import('../backup/index.ts');
      const result = await withCliStorage((storage, config) =>
        backupServiceFor({
          config,
          storage,
          clock: systemClock,
          onKeyGenerated: (file) => {
            process.stderr.write(
              `generated the backup key ${file}: keep a copy away from this server; without it no backup can be restored\n`,
            );
          },
        }).create(incremental ? 'incremental' : 'full'),
      );
      printJson(result);
    });
  backup
    .command('list')
    .description('The backups in PARLEY_BACKUP_DIR, oldest first (manifests only; `verify` checks them)')
    .action(async () => {
      const config = loadConfig();
      const { listBackups } = await import('../backup/backup-reader.ts');
      const listed = await listBackups(config.backupDir);
      printJson(
        listed.map((entry) =>
          entry.status === 'complete'
            ? {
                id: entry.id,
                status: entry.status,
                kind: entry.manifest.kind,
                createdAt: entry.manifest.createdAt,
                chainId: entry.manifest.chainId,
                parentId: entry.manifest.parentId,
                pageCount: entry.manifest.pageCount,
                storedPages: entry.manifest.storedPages,
                bytes: entry.manifest.files.reduce((sum, file) => sum + file.bytes, 0),
                keyId: entry.manifest.keyId,
              }
            : entry,
        ),
      );
    });
  backup
    .command('verify')
    .description(
      'Check every checksum and signature, restore on trial into a scratch dir, check the audit chains',
    )
    .argument('<id>', 'backup id (from `parley backup list`)')
    .action(async (id: string) => {
      const config = loadConfig();
      const [{ openBackupKeys }, { verifyBackup }, { backupWorkDir }] = await Promise.all([
        import('../backup/backup-key.ts'),
        import('../backup/backup-verify.ts'),
        import('../backup/index.ts'),
      ]);
      const report = await verifyBackup({
        backupDir: config.backupDir,
        keys: openBackupKeys(config.backupKeyFile, { generate: false }),
        id,
        scratchDir: backupWorkDir(config.dataDir),
        masterKeyFile: config.masterKeyFile,
        masterKeyEnvironment: config.masterKey,
        erasureLogFile: config.erasureLogFile,
        clock: systemClock,
      });
      printJson(report);
      if (!report.ok) process.exitCode = 1;
    });
  backup
    .command('restore')
    .description('Restore a backup (with the chain it needs) into an empty data directory')
    .argument('<id>', 'backup id (from `parley backup list`)')
    .requiredOption('--into <dir>', 'an empty or new data directory')
    .action(async (id: string, { into }: { into: string }) => {
      const config = loadConfig();
      const [{ openBackupKeys }, { restoreBackup }, { carryOutsideFiles }] = await Promise.all([
        import('../backup/backup-key.ts'),
        import('../backup/backup-restore.ts'),
        import('../backup/restore-companions.ts'),
      ]);
      const path = await import('node:path');
      const target = path.resolve(into);
      const result = await restoreBackup({
        backupDir: config.backupDir,
        keys: openBackupKeys(config.backupKeyFile, { generate: false }),
        id,
        target,
      });
      printJson({ ...result, copied: carryOutsideFiles(config, target) });
    });
  return backup;
}
