import { z } from 'zod';
import { BackupError } from './backup-error.ts';
import type { BackupKind } from './backup-manifest.ts';
import type { PgbackrestSettings } from './pgbackrest-config.ts';

const infoSchema = z.array(
  z.object({
    name: z.string(),
    status: z.object({ code: z.number(), message: z.string() }),
    repo: z.array(z.object({ status: z.object({ code: z.number(), message: z.string() }) })).optional(),
    backup: z.array(
      z.object({
        label: z.string(),
        type: z.enum(['full', 'diff', 'incr']),
        prior: z.string().nullable(),
        error: z.boolean().optional(),
        timestamp: z.object({ start: z.number(), stop: z.number() }),
        archive: z.object({ start: z.string().nullable(), stop: z.string().nullable() }),
        info: z.object({
          size: z.number(),
          delta: z.number(),
          repository: z.object({ size: z.number(), delta: z.number() }),
        }),
      }),
    ),
  }),
);

/** One backup set of the repository, as `parley backup list` shows it on PostgreSQL. */
export interface PgBackupEntry {
  id: string;
  status: 'complete' | 'error';
  kind: BackupKind | 'differential';
  startedAt: string;
  stoppedAt: string;
  /** The backup set an incremental builds on; null for a full backup. */
  parentId: string | null;
  /** The database size at the backup point, and what this set stored (compressed, encrypted). */
  databaseBytes: number;
  bytes: number;
  walStart: string | null;
  walStop: string | null;
}

const KINDS = { full: 'full', incr: 'incremental', diff: 'differential' } as const;

/** The backup sets of `pgbackrest info --output=json`, oldest first; a wrong cipher pass is named as such. */
export function parseInfo(raw: string, settings: PgbackrestSettings): PgBackupEntry[] {
  // pgBackRest 2.45 puts an error message's line breaks raw into its JSON strings: read them as spaces.
  // eslint-disable-next-line no-control-regex -- exactly the control characters JSON forbids in strings
  const output = raw.replace(/[\u0000-\u001f]+/g, ' ');
  const parsed = infoSchema.safeParse(JSON.parse(output));
  if (!parsed.success) throw new BackupError('backup_failed', 'pgbackrest info answered an unknown format');
  const stanza = parsed.data.find((entry) => entry.name === settings.stanza);
  // 1 missing stanza path, 2 no valid backups, 3 missing stanza data: nothing backed up yet, an empty list.
  if (stanza && [1, 2, 3].includes(stanza.status.code)) return [];
  if (stanza && stanza.status.code !== 0) {
    // Anything else is named by pgBackRest's message (the repository's says more).
    const message = [stanza.status.message, ...(stanza.repo ?? []).map((repo) => repo.status.message)]
      .filter((text, index, all) => all.indexOf(text) === index)
      .join(': ');
    // Under a wrong cipher pass the info files decrypt to noise that pgBackRest then fails to parse (and
    // quotes): the message is cut before it.
    if (/cipher|decrypt|crypto|unable to load info file/i.test(message)) {
      throw new BackupError(
        'backup_key_wrong',
        `wrong repository cipher pass: pgBackRest cannot read the repository ${settings.repoPath} with the pass of ${settings.configFile}, made from another backup key file than the one the repository was created with (PARLEY_BACKUP_KEY_FILE), or its info files are damaged`,
      );
    }
    throw new BackupError('backup_failed', `pgbackrest info: ${message}`);
  }
  return (stanza?.backup ?? []).map((set) => ({
    id: set.label,
    status: set.error === true ? 'error' : 'complete',
    kind: KINDS[set.type],
    startedAt: new Date(set.timestamp.start * 1000).toISOString(),
    stoppedAt: new Date(set.timestamp.stop * 1000).toISOString(),
    parentId: set.prior,
    databaseBytes: set.info.size,
    bytes: set.info.repository.delta,
    walStart: set.archive.start,
    walStop: set.archive.stop,
  }));
}
