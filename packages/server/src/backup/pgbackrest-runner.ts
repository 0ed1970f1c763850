import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { BackupError, type BackupErrorCode } from './backup-error.ts';

/** The OS user pgBackRest must run as: the owner of the PostgreSQL data directory. */
export interface ClusterOwner {
  uid: number;
  gid: number;
}

/**
 * Whose files pgBackRest reads and writes. When Parley runs as root (a container, a single-host install),
 * pgBackRest is started as the data directory's owner, as `archive_command` is: repository files made by
 * root would be unwritable for the next `archive-push`. Otherwise it runs as Parley's own user, which must
 * then be that owner (pgBackRest itself refuses to read a data directory it does not own).
 */
export function clusterOwner(pgPath: string): ClusterOwner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const { uid, gid } = statSync(pgPath);
    return uid === 0 ? undefined : { uid, gid };
  } catch {
    throw new BackupError(
      'backup_failed',
      `the PostgreSQL data directory ${pgPath} cannot be read (PARLEY_PGBACKREST_PG_PATH)`,
    );
  }
}

/** pgBackRest's own error line (`ERROR: [043]: …`), which names files and options, never the cipher pass. */
function pgbackrestError(stderr: string, stdout: string): { number: number; text: string } | undefined {
  const match = /ERROR: \[(\d+)\]: ([^\n]*)/.exec(`${stderr}\n${stdout}`);
  return match ? { number: Number(match[1]), text: match[2] ?? '' } : undefined;
}

/** The BackupError code of a pgBackRest failure: a wrong cipher pass is named as a wrong key. */
function codeOf(text: string): BackupErrorCode {
  if (/cipher|decrypt|unable to load info file/i.test(text)) return 'backup_key_wrong';
  if (/no space left/i.test(text)) return 'backup_target_full';
  if (/permission denied|read-only/i.test(text)) return 'backup_target_unwritable';
  if (/backup set .* is not valid|unable to find backup set/i.test(text)) return 'backup_not_found';
  return 'backup_failed';
}

export interface PgbackrestRunner {
  /** Runs `pgbackrest --config=… --stanza=… <command> <args>`; answers stdout, throws a BackupError. */
  run(command: string, args?: readonly string[]): Promise<string>;
  readonly owner: ClusterOwner | undefined;
}

/**
 * Starts pgBackRest with an argument array (no shell), the configuration file naming everything secret:
 * the cipher pass is never on a command line, in the environment or in a log line.
 */
export function pgbackrestRunner(options: {
  configFile: string;
  stanza: string;
  /** Asked on first use, not when the server starts: a node off the database host fails its backups, not its start. */
  owner: () => ClusterOwner | undefined;
  binary?: string;
}): PgbackrestRunner {
  const binary = options.binary ?? 'pgbackrest';
  let resolved: { value: ClusterOwner | undefined } | undefined;
  const ownerOnce = (): ClusterOwner | undefined => {
    resolved ??= { value: options.owner() };
    return resolved.value;
  };
  return {
    get owner() {
      return ownerOnce();
    },
    run(command, args = []) {
      const runAs = ownerOnce();
      const argv = [`--config=${options.configFile}`, `--stanza=${options.stanza}`, ...args, command];
      return new Promise((resolve, reject) => {
        execFile(
          binary,
          argv,
          {
            maxBuffer: 64 * 1024 * 1024,
            // Only what pgBackRest needs: no PGPASSWORD or other secret of Parley's environment.
            env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
            ...(runAs ? { uid: runAs.uid, gid: runAs.gid, cwd: '/' } : {}),
          },
          (error, stdout, stderr) => {
            if (!error) {
              resolve(stdout);
              return;
            }
            if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
              reject(
                new BackupError(
                  'backup_unsupported',
                  `pgBackRest is not installed (${binary} not found): apt-get install pgbackrest`,
                ),
              );
              return;
            }
            const found = pgbackrestError(stderr, stdout);
            const text = found ? found.text : `exit ${String(error.code)}`;
            const code = codeOf(text);
            const hint =
              code === 'backup_key_wrong'
                ? ' — wrong repository cipher pass: the pgBackRest configuration was made from another backup key file than the one the repository was created with (PARLEY_BACKUP_KEY_FILE)'
                : '';
            reject(new BackupError(code, `pgbackrest ${command} failed: ${text}${hint}`));
          },
        );
      });
    },
  };
}
