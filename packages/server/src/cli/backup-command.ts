import { Command, Option } from 'commander';
import { systemClock } from '../clock.ts';
import { type Config, loadConfig } from '../config.ts';
import type { Storage } from '../storage/database.ts';
import { withCliStorage } from './cli-storage.ts';

const printJson = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

/** On PostgreSQL every command drives pgBackRest (docs/backups.md, PostgreSQL). */
async function pgbackrest(config: Config, storage?: Storage) {
  const { pgbackrestServiceFor } = await import('../backup/index.ts');
  return pgbackrestServiceFor({
    config,
    storage,
    clock: systemClock,
    onKeyGenerated: (file) => {
      process.stderr.write(
        `generated the backup key ${file}: keep a copy away from this server; without it no backup can be restored\n`,
      );
    },
  });
}

/**
 * `parley backup create|list|verify|restore` (docs/backups.md). Every module is loaded on use: `parley
 * --help` and the other commands need none of it. Failures are BackupErrors whose message says what to fix;
 * main.ts prints it and exits 1.
 */
export function backupCommand(): Command {
  const backup = new Command('backup').description(
    'Encrypted backups: built in for the embedded database, through pgBackRest on PostgreSQL',
  );
  backup
    .command('configure')
    .description(
      'PostgreSQL: write the pgBackRest configuration; prints the postgresql.conf archive settings',
    )
    .action(async () => {
      const config = loadConfig();
      if (config.databaseUrl === undefined) {
        throw new Error('parley backup configure is for PostgreSQL (pgBackRest); embedded backups need none');
      }
      printJson((await pgbackrest(config)).configure());
    });
  backup
    .command('create')
    .description('Take a backup now (the server may keep running)')
    .addOption(new Option('--full', 'a full backup (the default)').conflicts('incremental'))
    .addOption(new Option('--incremental', 'only the pages changed since the previous backup'))
    .action(async ({ incremental }: { full?: boolean; incremental?: boolean }) => {
      const kind = incremental ? 'incremental' : 'full';
      const checked = loadConfig();
      if (checked.databaseUrl !== undefined) {
        // Says what is missing (PARLEY_PGBACKREST_PG_PATH) before opening the database.
        const { pgbackrestSettings } = await import('../backup/pgbackrest-config.ts');
        pgbackrestSettings(checked);
        printJson(
          await withCliStorage(async (storage, config) => (await pgbackrest(config, storage)).create(kind)),
        );
        return;
      }
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
        }).create(kind),
      );
      printJson(result);
    });
  backup
    .command('list')
    .description('The backups in PARLEY_BACKUP_DIR, oldest first (manifests only; `verify` checks them)')
    .action(async () => {
      const config = loadConfig();
      if (config.databaseUrl !== undefined) {
        printJson(await (await pgbackrest(config)).list());
        return;
      }
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
      if (config.databaseUrl !== undefined) {
        const report = await (await pgbackrest(config)).verify(id);
        printJson(report);
        await recordVerify(id, report.ok);
        if (!report.ok) process.exitCode = 1;
        return;
      }
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
      await recordVerify(id, report.ok);
      if (!report.ok) process.exitCode = 1;
    });
  backup
    .command('restore')
    .description('Restore a backup (with the chain it needs) into an empty data directory')
    .argument('<id>', 'backup id (from `parley backup list`)')
    .requiredOption('--into <dir>', 'an empty or new data directory (PostgreSQL: cluster directory)')
    .addOption(
      new Option('--to <time>', 'PostgreSQL: replay archived WAL up to this time').conflicts('latest'),
    )
    .addOption(new Option('--latest', 'PostgreSQL: replay every archived WAL segment'))
    .action(async (id: string, options: { into: string; to?: string; latest?: boolean }) => {
      const config = loadConfig();
      const { into } = options;
      if (config.databaseUrl !== undefined) {
        const path = await import('node:path');
        printJson(
          await (
            await pgbackrest(config)
          ).restore({
            id,
            target: path.resolve(into),
            ...(options.to === undefined ? {} : { to: options.to }),
            ...(options.latest === true ? { latest: true } : {}),
          }),
        );
        return;
      }
      if (options.to !== undefined || options.latest === true) {
        throw new Error(
          '--to and --latest are for PostgreSQL: an embedded backup restores to its backup point',
        );
      }
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

/**
 * Records the verification's outcome in the database for `parley_backup_last_verify_success` (and its alert).
 * A verify run where the database cannot be reached still reports its result; only the record is missing.
 */
async function recordVerify(id: string, ok: boolean): Promise<void> {
  try {
    const { recordBackupVerify } = await import('../backup/backup-state.ts');
    await withCliStorage((storage) => recordBackupVerify(storage, { at: systemClock.now(), id, ok }));
  } catch {
    process.stderr.write('parley: the verification was not recorded (the database could not be reached)\n');
  }
}
