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
}

const stateSchema = z.object({
  lastAttemptAt: z.number(),
  lastKind: z.enum(['full', 'incremental']),
  lastOutcome: z.enum(['succeeded', 'failed']),
  lastErrorCode: z.string().nullable(),
  lastSuccessAt: z.number().nullable(),
  lastSuccessId: z.string().nullable(),
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
  attempt: { at: number; kind: BackupKind; errorCode: BackupErrorCode | null; id: string | null },
): Promise<BackupState> {
  const previous = await readBackupState(storage);
  const succeeded = attempt.errorCode === null;
  const state: BackupState = {
    lastAttemptAt: attempt.at,
    lastKind: attempt.kind,
    lastOutcome: succeeded ? 'succeeded' : 'failed',
    lastErrorCode: attempt.errorCode,
    lastSuccessAt: succeeded ? attempt.at : (previous?.lastSuccessAt ?? null),
    lastSuccessId: succeeded ? attempt.id : (previous?.lastSuccessId ?? null),
  };
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
