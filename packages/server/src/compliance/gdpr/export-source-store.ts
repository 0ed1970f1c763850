import type { TenantTx } from '../../storage/database.ts';

const membershipColumns = [
  'm.role',
  'm.joined_seq',
  'm.joined_at',
  'm.left_at',
  'm.read_seq',
  'm.delivered_seq',
  'm.cleared_seq',
  'm.muted',
  'm.pinned',
] as const;

/**
 * What a data export reads: every table that holds a user's data, one keyset page at a time (each query
 * walks an index and returns at most `limit` rows), read-only. The reads are kept together here rather than
 * spread over each domain's store so that the list of what an export covers is one file to review against
 * the data inventory (data-inventory.ts); nothing here writes.
 */
export const exportSourceStore = {
  async user(tx: TenantTx, tenantId: string, userId: string) {
    return tx
      .selectFrom('users')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', userId)
      .executeTakeFirst();
  },

  async roles(tx: TenantTx, tenantId: string, userId: string): Promise<string[]> {
    const rows = await tx
      .selectFrom('user_roles')
      .select('role')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .orderBy('role')
      .execute();
    return rows.map((row) => row.role);
  },

  /** One row per purpose: as many as the tenant has purposes. */
  async consentStates(tx: TenantTx, tenantId: string, userId: string) {
    return tx
      .selectFrom('consent_states')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .orderBy('purpose_key')
      .execute();
  },

  async consentLedger(tx: TenantTx, tenantId: string, userId: string, afterId: string, limit: number) {
    return tx
      .selectFrom('consent_ledger')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
  },

  async sessions(tx: TenantTx, tenantId: string, userId: string, afterId: string, limit: number) {
    return tx
      .selectFrom('sessions')
      .select([
        'id',
        'client_id',
        'scopes',
        'device',
        'created_at',
        'last_used_at',
        'access_expires_at',
        'refresh_expires_at',
        'revoked_at',
        'revoked_reason',
      ])
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
  },

  /** The user's memberships (current and past) with their dialogs, by dialog id. */
  async memberships(tx: TenantTx, tenantId: string, userId: string, afterDialogId: string, limit: number) {
    return tx
      .selectFrom('dialog_members as m')
      .innerJoin('dialogs as d', 'd.id', 'm.dialog_id')
      .selectAll('d')
      .select(membershipColumns)
      .where('m.tenant_id', '=', tenantId)
      .where('d.tenant_id', '=', tenantId)
      .where('m.user_id', '=', userId)
      .where('m.dialog_id', '>', afterDialogId)
      .orderBy('m.dialog_id')
      .limit(limit)
      .execute();
  },

  /** The user's membership of one dialog (current or past), with the dialog. */
  async membership(tx: TenantTx, tenantId: string, userId: string, dialogId: string) {
    return tx
      .selectFrom('dialog_members as m')
      .innerJoin('dialogs as d', 'd.id', 'm.dialog_id')
      .selectAll('d')
      .select(membershipColumns)
      .where('m.tenant_id', '=', tenantId)
      .where('d.tenant_id', '=', tenantId)
      .where('m.user_id', '=', userId)
      .where('m.dialog_id', '=', dialogId)
      .executeTakeFirst();
  },

  /** Messages of a dialog after `afterSeq`, in sequence order (the dialog's unique (dialog_id, seq) index). */
  async dialogMessages(tx: TenantTx, tenantId: string, dialogId: string, afterSeq: number, limit: number) {
    return tx
      .selectFrom('messages')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
  },

  /** The attachment ids shared by each of `messageIds`, in their order within the message. */
  async sharedAttachments(tx: TenantTx, tenantId: string, messageIds: readonly string[]) {
    if (messageIds.length === 0) return [];
    return tx
      .selectFrom('attachment_shares')
      .select(['message_id', 'attachment_id'])
      .where('tenant_id', '=', tenantId)
      .where('message_id', 'in', messageIds)
      .orderBy('message_id')
      .orderBy('position')
      .execute();
  },

  /** Which of `messageIds` the user deleted for themselves. */
  async hiddenAmong(tx: TenantTx, tenantId: string, userId: string, messageIds: readonly string[]) {
    if (messageIds.length === 0) return new Set<string>();
    const rows = await tx
      .selectFrom('hidden_messages')
      .select('message_id')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('message_id', 'in', messageIds)
      .execute();
    return new Set(rows.map((row) => row.message_id));
  },

  /** The user's reactions to `messageIds` (the reactions primary key leads with the message id). */
  async reactionsAmong(tx: TenantTx, tenantId: string, userId: string, messageIds: readonly string[]) {
    if (messageIds.length === 0) return [];
    return tx
      .selectFrom('message_reactions')
      .select(['message_id', 'emoji', 'created_at'])
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('message_id', 'in', messageIds)
      .orderBy('message_id')
      .orderBy('created_at')
      .orderBy('emoji')
      .execute();
  },

  async blocks(tx: TenantTx, tenantId: string, userId: string, afterBlockedId: string, limit: number) {
    return tx
      .selectFrom('user_blocks')
      .select(['blocked_id', 'created_at'])
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('blocked_id', '>', afterBlockedId)
      .orderBy('blocked_id')
      .limit(limit)
      .execute();
  },

  /** Calls the user took part in (the caller is a participant too), with their own part, by call id. */
  async calls(tx: TenantTx, tenantId: string, userId: string, afterCallId: string, limit: number) {
    return tx
      .selectFrom('call_participants as p')
      .innerJoin('calls as c', 'c.id', 'p.call_id')
      .selectAll('c')
      .select([
        'p.state as own_state',
        'p.device_id as own_device_id',
        'p.joined_at as own_joined_at',
        'p.left_at as own_left_at',
      ])
      .where('p.tenant_id', '=', tenantId)
      .where('c.tenant_id', '=', tenantId)
      .where('p.user_id', '=', userId)
      .where('p.call_id', '>', afterCallId)
      .orderBy('p.call_id')
      .limit(limit)
      .execute();
  },

  async callParticipants(tx: TenantTx, tenantId: string, callIds: readonly string[]) {
    if (callIds.length === 0) return [];
    return tx
      .selectFrom('call_participants')
      .select(['call_id', 'user_id'])
      .where('tenant_id', '=', tenantId)
      .where('call_id', 'in', callIds)
      .orderBy('call_id')
      .orderBy('user_id')
      .execute();
  },

  /** Attachments the user uploaded that were completed (and may since have been removed), by id. */
  async attachments(tx: TenantTx, tenantId: string, userId: string, afterId: string, limit: number) {
    return tx
      .selectFrom('attachments')
      .select(['id', 'status', 'content_type', 'size', 'created_at'])
      .where('tenant_id', '=', tenantId)
      .where('uploader_id', '=', userId)
      .where('status', 'in', ['complete', 'removed'])
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
  },
};

export type MembershipRow = Awaited<ReturnType<typeof exportSourceStore.memberships>>[number];
export type CallRowWithPart = Awaited<ReturnType<typeof exportSourceStore.calls>>[number];
export type SessionSourceRow = Awaited<ReturnType<typeof exportSourceStore.sessions>>[number];
