import type { SystemTx } from '../storage/database.ts';
import type { StaffAccountsTable, StaffSessionsTable } from '../storage/tables.ts';

export type StaffAccountRow = StaffAccountsTable;
export type StaffSessionRow = StaffSessionsTable;

/** Kysely queries for operator staff accounts and sessions: platform tables, read in system transactions. */
export const staffStore = {
  async insertAccount(tx: SystemTx, row: StaffAccountRow): Promise<void> {
    await tx.insertInto('staff_accounts').values(row).execute();
  },

  /** By the blind index of the address (`BlindIndex.computeForPlatform`): the address itself is sealed. */
  async accountByEmailIndex(tx: SystemTx, emailIndex: string): Promise<StaffAccountRow | undefined> {
    return tx
      .selectFrom('staff_accounts')
      .selectAll()
      .where('email_index', '=', emailIndex)
      .executeTakeFirst();
  },

  async accountByEnrolmentHash(tx: SystemTx, hash: string): Promise<StaffAccountRow | undefined> {
    return tx.selectFrom('staff_accounts').selectAll().where('enrolment_hash', '=', hash).executeTakeFirst();
  },

  /** Enrolled, not disabled accounts of one role. */
  async activeWithRole(tx: SystemTx, role: StaffAccountRow['role']): Promise<StaffAccountRow[]> {
    return tx
      .selectFrom('staff_accounts')
      .selectAll()
      .where('role', '=', role)
      .where('disabled_at', 'is', null)
      .where('enrolled_at', 'is not', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  },

  async listAccounts(tx: SystemTx): Promise<StaffAccountRow[]> {
    return tx.selectFrom('staff_accounts').selectAll().orderBy('created_at').orderBy('id').execute();
  },

  /** Sets the password and ends the enrolment, unless another request used the token first; true if this did. */
  async completeEnrolment(
    tx: SystemTx,
    id: string,
    enrolmentHash: string,
    change: { password_hash: string; totp_last_step: number; enrolled_at: number },
  ): Promise<boolean> {
    const result = await tx
      .updateTable('staff_accounts')
      .set({ ...change, enrolment_hash: null, enrolment_expires_at: null })
      .where('id', '=', id)
      .where('enrolment_hash', '=', enrolmentHash)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  },

  /** Records a TOTP step as used unless it (or a later one) was used already; true when this call did. */
  async useTotpStep(tx: SystemTx, id: string, step: number): Promise<boolean> {
    const result = await tx
      .updateTable('staff_accounts')
      .set({ totp_last_step: step })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  },

  async insertSession(tx: SystemTx, row: StaffSessionRow): Promise<void> {
    await tx.insertInto('staff_sessions').values(row).execute();
  },

  /** The session of an access-token hash, with its staff member's role and state. */
  async sessionByHash(tx: SystemTx, hash: string) {
    return tx
      .selectFrom('staff_sessions')
      .innerJoin('staff_accounts', 'staff_accounts.id', 'staff_sessions.staff_id')
      .select([
        'staff_sessions.id as sessionId',
        'staff_sessions.staff_id as staffId',
        'staff_sessions.expires_at as expiresAt',
        'staff_sessions.revoked_at as revokedAt',
        'staff_accounts.role as role',
        'staff_accounts.disabled_at as disabledAt',
      ])
      .where('staff_sessions.access_hash', '=', hash)
      .executeTakeFirst();
  },

  async revokeSession(tx: SystemTx, id: string, now: number): Promise<void> {
    await tx
      .updateTable('staff_sessions')
      .set({ revoked_at: now })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
  },
};
