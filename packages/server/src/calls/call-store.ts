import type { ExpressionBuilder, SqlBool } from 'kysely';
import type { TenantTx } from '../storage/database.ts';
import type { DialectName } from '../storage/dialects/dialect-adapter.ts';
import type { CallParticipantsTable, CallsTable, Database } from '../storage/tables.ts';

export type CallRow = CallsTable;
export type ParticipantRow = CallParticipantsTable;

/** Whom a user may call directly: people sharing a dialog with them, or any active user of the tenant. */
export type CallReach = 'shared_dialog' | 'tenant';

/** What a call between two users depends on (see `callStore.pairChecks`). */
export interface PairChecks {
  reachable: boolean;
  blocked: boolean;
  userBusy: boolean;
  otherBusy: boolean;
}

type Eb = ExpressionBuilder<Database, never>;

/** PostgreSQL answers `exists` with a boolean, SQLite with 0 or 1. */
const yes = (value: SqlBool | undefined): boolean => value === true || value === 1;

/** Joined on some device to a call that has not ended (what `busyAmong` asks, for one user). */
const inOpenCall = (eb: Eb, tenantId: string, userId: string) =>
  eb.exists(
    eb
      .selectFrom('call_participants')
      .innerJoin('calls', 'calls.id', 'call_participants.call_id')
      .select('call_participants.user_id')
      .where('call_participants.tenant_id', '=', tenantId)
      .where('call_participants.user_id', '=', userId)
      .where('call_participants.state', '=', 'joined')
      .where('calls.state', '!=', 'ended'),
  );

/** Either blocked the other (as `relationships.eitherBlocked`). */
const eitherBlocked = (eb: Eb, tenantId: string, a: string, b: string) =>
  eb.exists(
    eb
      .selectFrom('user_blocks')
      .select('user_blocks.user_id')
      .where('user_blocks.tenant_id', '=', tenantId)
      .where((inner) =>
        inner.or([
          inner.and([inner('user_blocks.user_id', '=', a), inner('user_blocks.blocked_id', '=', b)]),
          inner.and([inner('user_blocks.user_id', '=', b), inner('user_blocks.blocked_id', '=', a)]),
        ]),
      ),
  );

/**
 * `a` may call `b` (as `relationships.shareActiveDialog` and `isActiveUser`): both still in a private, group
 * or broadcast dialog — a public one anybody may join does not make people contacts — or, when the tenant
 * lets anyone call anyone, `b` is an active user.
 */
const mayReach = (eb: Eb, tenantId: string, a: string, b: string, reach: CallReach) =>
  reach === 'tenant'
    ? eb.exists(
        eb
          .selectFrom('users')
          .select('users.id')
          .where('users.tenant_id', '=', tenantId)
          .where('users.id', '=', b)
          .where('users.status', '=', 'active'),
      )
    : eb.exists(
        eb
          .selectFrom('dialog_members as mine')
          .innerJoin('dialog_members as theirs', 'theirs.dialog_id', 'mine.dialog_id')
          .innerJoin('dialogs', 'dialogs.id', 'mine.dialog_id')
          .select('mine.dialog_id')
          .where('mine.tenant_id', '=', tenantId)
          .where('mine.user_id', '=', a)
          .where('mine.left_at', 'is', null)
          .where('theirs.user_id', '=', b)
          .where('theirs.left_at', 'is', null)
          .where('dialogs.deleted_at', 'is', null)
          .where('dialogs.type', '!=', 'public'),
      );

/** Kysely queries for calls and their participants; every query names the tenant. */
export const callStore = {
  async insertCall(tx: TenantTx, row: CallRow): Promise<void> {
    await tx.insertInto('calls').values(row).execute();
  },

  /** A call's participants, in one statement. */
  async insertParticipants(tx: TenantTx, rows: readonly ParticipantRow[]): Promise<void> {
    if (rows.length === 0) return;
    await tx
      .insertInto('call_participants')
      .values([...rows])
      .execute();
  },

  /**
   * What a call between `userId` and `otherId` depends on, in one round trip instead of up to four: may
   * `userId` reach `otherId` (asked only when `reach` is given; otherwise `reachable` is true), did either
   * block the other, and is each of them in a call that has not ended. A busy answer holds only as long as
   * the user's row is locked (`lockUser` in the service) before this runs.
   */
  async pairChecks(
    tx: TenantTx,
    tenantId: string,
    userId: string,
    otherId: string,
    reach: CallReach | null,
  ): Promise<PairChecks> {
    const row = await tx
      .selectNoFrom((eb) => [
        eitherBlocked(eb, tenantId, userId, otherId).as('blocked'),
        inOpenCall(eb, tenantId, userId).as('userBusy'),
        inOpenCall(eb, tenantId, otherId).as('otherBusy'),
      ])
      .$if(reach !== null, (query) =>
        query.select((eb) => mayReach(eb, tenantId, userId, otherId, reach ?? 'tenant').as('reachable')),
      )
      .executeTakeFirstOrThrow();
    return {
      reachable: reach === null || yes(row.reachable),
      blocked: yes(row.blocked),
      userBusy: yes(row.userBusy),
      otherBusy: yes(row.otherBusy),
    };
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

  /** Every participant of the call in state `from` gets `changes` (ending a call: ringing → missed, …). */
  async moveParticipants(
    tx: TenantTx,
    tenantId: string,
    callId: string,
    from: ParticipantRow['state'],
    changes: Partial<ParticipantRow>,
  ) {
    await tx
      .updateTable('call_participants')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('call_id', '=', callId)
      .where('state', '=', from)
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
