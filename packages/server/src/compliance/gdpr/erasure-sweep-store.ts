import type { TenantTx } from '../../storage/database.ts';

const count = (result: { numUpdatedRows?: bigint; numDeletedRows?: bigint }[]) =>
  result.reduce((total, row) => total + Number(row.numUpdatedRows ?? row.numDeletedRows ?? 0n), 0);

/** The personal columns of `users` an erasure clears (the sealed ones are unreadable already once shredded). */
const clearedUserFields = [
  'display_name',
  'email',
  'email_index',
  'phone',
  'phone_index',
  'profile',
  'password_hash',
  'password_changed_at',
  'password_history',
  'totp_secret',
  'totp_pending_secret',
  'recovery_codes',
  'avatar_url',
  'last_active_at',
] as const;

/**
 * The queries erasure runs on the tables of other domains (GDPR Art. 17). Erasure is the one act that must
 * reach every table holding something of a person, as the data inventory lists them; gathering its queries
 * here lets one test compare them with that inventory (erasure-coverage.ts). Every query names the tenant.
 */
export const erasureSweepStore = {
  /** Clears the account's personal fields and credentials; returns how many held something. */
  async clearAccount(tx: TenantTx, tenantId: string, userId: string, now: number): Promise<number> {
    const row = await tx
      .selectFrom('users')
      .select(clearedUserFields)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!row) return 0;
    const held = clearedUserFields.filter((field) => row[field] != null).length;
    await tx
      .updateTable('users')
      .set({
        ...Object.fromEntries(clearedUserFields.map((field) => [field, null])),
        status: 'erased',
        totp_last_step: null,
        totp_enabled_at: null,
        email_verified_at: null,
        failed_logins: 0,
        locked_until: null,
        must_change_password: 0,
        presence_visibility: 'nobody',
        updated_at: now,
      })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', userId)
      .execute();
    return held;
  },

  /** Single-use tokens (MFA steps, resets, verifications, invitations with sealed addresses). */
  async deleteTokens(tx: TenantTx, tenantId: string, userId: string): Promise<number> {
    return count(
      await tx
        .deleteFrom('user_tokens')
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .execute(),
    );
  },

  /** The device (user agent and IP) of every session, and the spent refresh tokens of those sessions. */
  async clearSessionDevices(tx: TenantTx, tenantId: string, userId: string): Promise<void> {
    const sessionIds = tx
      .selectFrom('sessions')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId);
    await tx
      .deleteFrom('used_refresh_tokens')
      .where('tenant_id', '=', tenantId)
      .where('session_id', 'in', sessionIds)
      .execute();
    await tx
      .updateTable('sessions')
      .set({ device: null })
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .execute();
  },

  async deleteRolesAndConsentStates(tx: TenantTx, tenantId: string, userId: string): Promise<number> {
    await tx
      .deleteFrom('user_roles')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .execute();
    return count(
      await tx
        .deleteFrom('consent_states')
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .execute(),
    );
  },

  /** The user's files that still hold content (not yet erased). */
  async filesHeld(tx: TenantTx, tenantId: string, userId: string): Promise<number> {
    const row = await tx
      .selectFrom('attachments')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('tenant_id', '=', tenantId)
      .where('uploader_id', '=', userId)
      .where('status', '!=', 'removed')
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  },

  /** Mail kept in the embedded outbox, by id, for the caller to match against the account's address. */
  async outboxPage(tx: TenantTx, tenantId: string, after: string | null, limit: number) {
    return tx
      .selectFrom('mail_outbox')
      .select(['id', 'recipient'])
      .where('tenant_id', '=', tenantId)
      .$if(after !== null, (query) => query.where('id', '>', after ?? ''))
      .orderBy('id')
      .limit(limit)
      .execute();
  },

  async deleteMail(tx: TenantTx, tenantId: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await tx.deleteFrom('mail_outbox').where('tenant_id', '=', tenantId).where('id', 'in', ids).execute();
  },

  /**
   * Reactions stay counted for the other members but no longer point at the person: they move to a random
   * id made for this erasure alone.
   */
  async anonymiseReactions(tx: TenantTx, tenantId: string, userId: string, ghostId: string): Promise<number> {
    return count(
      await tx
        .updateTable('message_reactions')
        .set({ user_id: ghostId })
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .execute(),
    );
  },

  /**
   * The account leaves every dialog it was in (its read and delivered positions stay, under the account's
   * now empty id: receipt counts others see do not change); its "delete for me" marks go.
   */
  async leaveDialogs(
    tx: TenantTx,
    tenantId: string,
    userId: string,
    now: number,
  ): Promise<{ memberships: number; hidden: number }> {
    const memberships = count(
      await tx
        .updateTable('dialog_members')
        .set({ left_at: now })
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .where('left_at', 'is', null)
        .execute(),
    );
    await tx
      .updateTable('dialog_members')
      .set({ muted: 0, pinned: 0 })
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .execute();
    const hidden = count(
      await tx
        .deleteFrom('hidden_messages')
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .execute(),
    );
    return { memberships, hidden };
  },

  /** Blocks the user made and blocks of them. */
  async deleteBlocks(tx: TenantTx, tenantId: string, userId: string): Promise<number> {
    return count(
      await tx
        .deleteFrom('user_blocks')
        .where('tenant_id', '=', tenantId)
        .where((eb) => eb.or([eb('user_id', '=', userId), eb('blocked_id', '=', userId)]))
        .execute(),
    );
  },

  /** The device ids a client chose for its calls. */
  async clearCallDevices(tx: TenantTx, tenantId: string, userId: string): Promise<number> {
    const calls = count(
      await tx
        .updateTable('calls')
        .set({ caller_device_id: '' })
        .where('tenant_id', '=', tenantId)
        .where('caller_id', '=', userId)
        .where('caller_device_id', '!=', '')
        .execute(),
    );
    const joined = count(
      await tx
        .updateTable('call_participants')
        .set({ device_id: null })
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .where('device_id', 'is not', null)
        .execute(),
    );
    return calls + joined;
  },

  /**
   * The user's own export archives (a copy of their data) are destroyed; the record of the export stays. The
   * rows are marked first: a build writing a part holds its export row's lock and checks the status under it
   * (export-job.ts, `stillBuilding`), so once this update has the rows no build adds a chunk the deletes
   * below would miss.
   */
  async destroyExports(tx: TenantTx, tenantId: string, userId: string, now: number): Promise<number> {
    const destroyed = count(
      await tx
        .updateTable('data_exports')
        .set({
          status: 'destroyed',
          archive_key: null,
          destroyed_at: now,
          destroyed_reason: 'subject_erased',
          updated_at: now,
        })
        .where('tenant_id', '=', tenantId)
        .where('subject_id', '=', userId)
        .where('destroyed_at', 'is', null)
        .execute(),
    );
    const theirs = await tx
      .selectFrom('data_exports')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('subject_id', '=', userId)
      .execute();
    await deleteArchives(
      tx,
      tenantId,
      theirs.map((row) => row.id),
    );
    return destroyed;
  },

  /**
   * Other people's archives built, or being built, while the user's messages were still readable, under a
   * policy that puts other people's messages in them (`redacted`, `full`): the archives of everyone who is or
   * was in a dialog the user wrote in. Under the `erase` message policy they hold text erased for everyone;
   * they are destroyed (reason `correspondent_erased`, the record stays), and their subjects can ask again.
   * A queued export has read nothing yet and builds from what is left. Returns those destroyed, as they were.
   */
  async destroyCorrespondentExports(
    tx: TenantTx,
    tenantId: string,
    userId: string,
    now: number,
  ): Promise<{ id: string; subject_id: string; status: string; request_id: string | null }[]> {
    const rows = await tx
      .selectFrom('data_exports as e')
      .select(['e.id', 'e.subject_id', 'e.status', 'e.request_id'])
      .where('e.tenant_id', '=', tenantId)
      .where('e.subject_id', '!=', userId)
      .where('e.destroyed_at', 'is', null)
      .where('e.status', 'in', ['running', 'ready'])
      .where('e.others_messages', '!=', 'none')
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('dialog_members as dm')
            .innerJoin('messages as m', (join) =>
              join.onRef('m.dialog_id', '=', 'dm.dialog_id').onRef('m.tenant_id', '=', 'dm.tenant_id'),
            )
            .select('m.id')
            .whereRef('dm.tenant_id', '=', 'e.tenant_id')
            .whereRef('dm.user_id', '=', 'e.subject_id')
            .where('m.sender_id', '=', userId),
        ),
      )
      .orderBy('e.id')
      .execute();
    if (rows.length === 0) return [];
    const ids = rows.map((row) => row.id);
    await tx
      .updateTable('data_exports')
      .set({
        status: 'destroyed',
        archive_key: null,
        destroyed_at: now,
        destroyed_reason: 'correspondent_erased',
        updated_at: now,
      })
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', ids)
      .execute();
    await deleteArchives(tx, tenantId, ids);
    return rows;
  },
};

/** The parts and chunks of the given exports (their rows already marked destroyed). */
async function deleteArchives(tx: TenantTx, tenantId: string, exports: readonly string[]): Promise<void> {
  if (exports.length === 0) return;
  await tx
    .deleteFrom('data_export_chunks')
    .where('tenant_id', '=', tenantId)
    .where('export_id', 'in', exports)
    .execute();
  await tx
    .deleteFrom('data_export_parts')
    .where('tenant_id', '=', tenantId)
    .where('export_id', 'in', exports)
    .execute();
}
