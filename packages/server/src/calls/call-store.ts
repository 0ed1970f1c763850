import type { TenantTx } from '../storage/database.ts';
import type { DialectName } from '../storage/dialects/dialect-adapter.ts';
import type { CallParticipantsTable, CallsTable } from '../storage/tables.ts';

export type CallRow = CallsTable;
export type ParticipantRow = CallParticipantsTable;

/** Kysely queries for calls and their participants; every query names the tenant. */
export const callStore = {
  async insertCall(tx: TenantTx, row: CallRow): Promise<void> {
    await tx.insertInto('calls').values(row).execute();
  },

  async insertParticipant(tx: TenantTx, row: ParticipantRow): Promise<void> {
    await tx.insertInto('call_participants').values(row).execute();
  },

  /** The call, locked on PostgreSQL until the transaction ends: call state changes are serialised. */
  async lockCall(tx: TenantTx, tenantId: string, callId: string, dialect: DialectName) {
    return tx
      .selectFrom('calls')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', callId)
      .$if(dialect === 'postgres', (query) => query.forUpdate())
      .executeTakeFirst();
  },

  async participants(tx: TenantTx, tenantId: string, callIds: readonly string[]): Promise<ParticipantRow[]> {
    if (callIds.length === 0) return [];
    return tx
      .selectFrom('call_participants')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('call_id', 'in', callIds)
      .orderBy('user_id')
      .execute();
  },

  async updateCall(tx: TenantTx, tenantId: string, callId: string, changes: Partial<CallRow>) {
    await tx
      .updateTable('calls')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', callId)
      .execute();
  },

  async updateParticipant(
    tx: TenantTx,
    tenantId: string,
    callId: string,
    userId: string,
    changes: Partial<ParticipantRow>,
  ) {
    await tx
      .updateTable('call_participants')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('call_id', '=', callId)
      .where('user_id', '=', userId)
      .execute();
  },

  /** Users among these who are in a call that has not ended (joined on some device). */
  async busyAmong(tx: TenantTx, tenantId: string, userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const rows = await tx
      .selectFrom('call_participants')
      .innerJoin('calls', 'calls.id', 'call_participants.call_id')
      .select('call_participants.user_id')
      .where('call_participants.tenant_id', '=', tenantId)
      .where('call_participants.user_id', 'in', userIds)
      .where('call_participants.state', '=', 'joined')
      .where('calls.state', '!=', 'ended')
      .execute();
    return new Set(rows.map((row) => row.user_id));
  },

  /** The joined devices of these users in calls that have not ended. */
  async joinedDevices(tx: TenantTx, tenantId: string, userIds: readonly string[]) {
    if (userIds.length === 0) return [];
    return tx
      .selectFrom('call_participants')
      .innerJoin('calls', 'calls.id', 'call_participants.call_id')
      .select(['call_participants.call_id', 'call_participants.user_id', 'call_participants.device_id'])
      .where('call_participants.tenant_id', '=', tenantId)
      .where('call_participants.user_id', 'in', userIds)
      .where('call_participants.state', '=', 'joined')
      .where('calls.state', '!=', 'ended')
      .execute();
  },

  /** Calls not ended in which this device takes part. */
  async openCallsOfDevice(tx: TenantTx, tenantId: string, userId: string, deviceId: string) {
    const rows = await tx
      .selectFrom('call_participants')
      .innerJoin('calls', 'calls.id', 'call_participants.call_id')
      .select('call_participants.call_id')
      .where('call_participants.tenant_id', '=', tenantId)
      .where('call_participants.user_id', '=', userId)
      .where('call_participants.device_id', '=', deviceId)
      .where('call_participants.state', '=', 'joined')
      .where('calls.state', '!=', 'ended')
      .execute();
    return rows.map((row) => row.call_id);
  },

  /** A user's calls (or a dialog's), newest first, before an optional keyset cursor. */
  async history(
    tx: TenantTx,
    tenantId: string,
    filter: { userId?: string; dialogId?: string; since?: number },
    page: { limit: number; before?: { at: number; id: string } | undefined },
  ): Promise<CallRow[]> {
    let query = tx.selectFrom('calls').selectAll('calls').where('calls.tenant_id', '=', tenantId);
    if (filter.dialogId !== undefined) query = query.where('calls.dialog_id', '=', filter.dialogId);
    if (filter.since !== undefined) query = query.where('calls.created_at', '>=', filter.since);
    if (filter.userId !== undefined) {
      const userId = filter.userId;
      query = query.where((eb) =>
        eb.exists(
          eb
            .selectFrom('call_participants')
            .select('call_participants.call_id')
            .whereRef('call_participants.call_id', '=', 'calls.id')
            .where('call_participants.user_id', '=', userId),
        ),
      );
    }
    const before = page.before;
    if (before)
      query = query.where((eb) =>
        eb.or([
          eb('calls.created_at', '<', before.at),
          eb.and([eb('calls.created_at', '=', before.at), eb('calls.id', '<', before.id)]),
        ]),
      );
    return query.orderBy('calls.created_at', 'desc').orderBy('calls.id', 'desc').limit(page.limit).execute();
  },
};
