import { z } from 'zod';
import type { Storage } from '../storage/database.ts';
import type { BackupErrorCode } from './backup-error.ts';
import type { BackupKind } from './backup-manifest.ts';

/**
 * The outcome of the latest backup attempts, for operators and the backup alerts. Kept in the database
 * (`parley_meta`, key `backup_state`), not beside the backups: a backup target that is full or gone must
 * still get its failure recorded.
 */
export interface BackupState {
  lastAttemptAt: number;
  lastKind: BackupKind;
  lastOutcome: 'succeeded' | 'failed';
  lastErrorCode: BackupErrorCode | null;
  lastSuccessAt: number | null;
  lastSuccessId: string | null;
  /** Stored bytes of the last successful backup (encrypted files; an incremental's own files only). */
  lastSuccessBytes: number | null;
  /** The latest `parley backup verify` (of any backup): when, which, and whether it passed. */
  lastVerifyAt: number | null;
  lastVerifyId: string | null;
  lastVerifyOk: boolean | null;
}

const stateSchema = z.object({
  lastAttemptAt: z.number(),
  lastKind: z.enum(['full', 'incremental']),
  lastOutcome: z.enum(['succeeded', 'failed']),
  lastErrorCode: z.string().nullable(),
  lastSuccessAt: z.number().nullable(),
  lastSuccessId: z.string().nullable(),
  // Absent in states written before they existed.
  lastSuccessBytes: z.number().nullable().default(null),
  lastVerifyAt: z.number().nullable().default(null),
  lastVerifyId: z.string().nullable().default(null),
  lastVerifyOk: z.boolean().nullable().default(null),
});

const STATE_KEY = 'backup_state';

export async function readBackupState(storage: Storage): Promise<BackupState | undefined> {
  const row = await storage.withSystem((tx) =>
    tx.selectFrom('parley_meta').select('value').where('key', '=', STATE_KEY).executeTakeFirst(),
  );
  if (!row) return undefined;
  const parsed = stateSchema.safeParse(JSON.parse(row.value));
  return parsed.success ? (parsed.data as BackupState) : undefined;
}

/** Records one attempt's outcome, keeping the last success when this attempt failed. */
export async function recordBackupAttempt(
  storage: Storage,
  attempt: {
    at: number;
    kind: BackupKind;
    errorCode: BackupErrorCode | null;
    id: string | null;
    /** The stored size of a successful backup, when known. */
    bytes?: number;
  },
): Promise<BackupState> {
  const previous = await readBackupState(storage);
  const succeeded = attempt.errorCode === null;
  return writeState(storage, {
    lastAttemptAt: attempt.at,
    lastKind: attempt.kind,
    lastOutcome: succeeded ? 'succeeded' : 'failed',
    lastErrorCode: attempt.errorCode,
    lastSuccessAt: succeeded ? attempt.at : (previous?.lastSuccessAt ?? null),
    lastSuccessId: succeeded ? attempt.id : (previous?.lastSuccessId ?? null),
    lastSuccessBytes: succeeded ? (attempt.bytes ?? null) : (previous?.lastSuccessBytes ?? null),
    lastVerifyAt: previous?.lastVerifyAt ?? null,
    lastVerifyId: previous?.lastVerifyId ?? null,
    lastVerifyOk: previous?.lastVerifyOk ?? null,
  });
}

/**
 * Records the outcome of a verification, for `parley_backup_last_verify_success` and its alert. Before any
 * backup was taken there is no state to add it to, and nothing is recorded.
 */
export async function recordBackupVerify(
  storage: Storage,
  verify: { at: number; id: string; ok: boolean },
): Promise<BackupState | undefined> {
  const previous = await readBackupState(storage);
  if (!previous) return undefined;
  return writeState(storage, {
    ...previous,
    lastVerifyAt: verify.at,
    lastVerifyId: verify.id,
    lastVerifyOk: verify.ok,
  });
}

async function writeState(storage: Storage, state: BackupState): Promise<BackupState> {
  const value = JSON.stringify(state);
  await storage.withSystem((tx) =>
    tx
      .insertInto('parley_meta')
      .values({ key: STATE_KEY, value })
      .onConflict((conflict) => conflict.column('key').doUpdateSet({ value }))
      .execute(),
  );
  return state;
}
