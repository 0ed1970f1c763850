import {
  type CallOutcome,
  type CallServerFrame,
  type CallSignal,
  MAX_CALL_PARTICIPANTS,
} from '@parley/protocol';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { AuditInput } from '../compliance/audit/audit-entry.ts';
import type { AuditLog } from '../compliance/audit/audit-log.ts';
import type { Counter } from '../counters/counter.ts';
import { newId } from '../ids.ts';
import type { MessageFanout } from '../messaging/message-fanout.ts';
import type { MessagingLimits } from '../messaging/messaging-limits.ts';
import { relationships } from '../messaging/relationships.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import { type CallRow, callStore, type ParticipantRow } from './call-store.ts';

/** Who is acting: a user on one device (a realtime connection). */
export interface CallActor {
  tenantId: string;
  userId: string;
  deviceId: string;
}

/** Frames to send after a change commits, each to all devices of a user or to one device. */
interface Outgoing {
  userId: string;
  deviceId?: string;
  frame: CallServerFrame;
}

/** A call and its participants as a change left them (written, and applied to the rows already held). */
interface CallView {
  call: CallRow;
  participants: ParticipantRow[];
}

/** What a change leaves to do: frames to send after commit, and the `call.ended` entry if it ended the call. */
interface Settled {
  outgoing: Outgoing[];
  ended?: AuditInput;
}

const CALL_STARTS_PER_MINUTE = 20;

/**
 * Call signaling and records. Parley rings, tracks who joined on which device, relays SDP and ICE between
 * joined devices and keeps the record; media flows peer to peer (DTLS-SRTP), never through Parley. Every
 * state change runs under the call's row lock, so two devices accepting at once cannot both win.
 */
export function createCallService(deps: {
  storage: Storage;
  clock: Clock;
  fanout: MessageFanout;
  audit: AuditLog;
  counter: Counter;
  /** Which connections are alive: a device whose node died without saying goodbye leaves its calls. */
  liveDevices: (tenantId: string, userId: string) => Promise<Set<string>>;
  ringTimeoutMs: number;
  limits: (tx: TenantTx, tenantId: string) => Promise<MessagingLimits>;
}) {
  const { storage, clock, fanout, audit, counter } = deps;
  const timers = new Map<string, NodeJS.Timeout>();

  /**
   * Publishes one change's frames concurrently: one bus round trip instead of one per frame. Every publish
   * is issued in this tick, in list order, and a user's frames still arrive in that order (a callee's
   * `call.incoming` before the `call.state` of the same start), because each bus hands messages on in the
   * order `publish` was called — the local bus synchronously, the Redis bus over its one publisher
   * connection, which Redis serves in order and relays to subscribers in order — and a node passes a user's
   * hints to each socket through one queue. Frames of different changes were never ordered with each other:
   * each change commits and publishes on its own.
   */
  async function emit(tenantId: string, outgoing: readonly Outgoing[]): Promise<void> {
    await Promise.all(
      outgoing.map((entry) =>
        fanout.published(tenantId, [entry.userId], {
          kind: 'call',
          frame: entry.frame,
          ...(entry.deviceId === undefined ? {} : { deviceId: entry.deviceId }),
        }),
      ),
    );
  }

  function stateFrame(call: CallRow, participants: readonly ParticipantRow[]): CallServerFrame {
    return {
      type: 'call.state',
      callId: call.id,
      state: call.state === 'active' ? 'active' : 'ringing',
      participants: participants.map((row) => ({
        userId: row.user_id,
        state: row.state,
        deviceId: row.device_id,
      })),
    };
  }

  /**
   * After a change: ends the call when nobody is left to talk to, and tells every participant. Does not
   * append the `call.ended` entry itself: the caller appends it as the transaction's last statement, since on
   * PostgreSQL the append locks the tenant's audit chain head until commit (every call in the tenant waits).
   * Reads nothing: the view is what the change wrote, under the call's lock.
   */
  async function settle(tx: TenantTx, { call, participants: before }: CallView): Promise<Settled> {
    // Every writer of a call's participants holds the call's lock (or inserted them), so this is the table.
    const participants = [...before].sort((a, b) => (a.user_id < b.user_id ? -1 : 1));
    const joined = participants.filter((row) => row.state === 'joined');
    const ringing = participants.filter((row) => row.state === 'ringing');
    const everyone = participants.map((row) => row.user_id);
    let outcome: CallOutcome | undefined;
    if (call.state === 'active' && joined.length <= 1 && ringing.length === 0) outcome = 'completed';
    if (call.state === 'active' && joined.length === 0) outcome = 'completed';
    if (call.state === 'ringing') {
      const callerIn = joined.some((row) => row.user_id === call.caller_id);
      if (!callerIn) outcome = 'cancelled';
      else if (ringing.length === 0 && joined.length <= 1) {
        const others = participants.filter((row) => row.user_id !== call.caller_id);
        outcome = others.every((row) => row.state === 'busy')
          ? 'busy'
          : others.every((row) => row.state === 'rejected' || row.state === 'busy')
            ? 'rejected'
            : 'missed';
      }
    }
    if (outcome === undefined) {
      const frame = stateFrame(call, participants);
      return { outgoing: everyone.map((userId) => ({ userId, frame })) };
    }
    const now = clock.now();
    if (ringing.length > 0)
      await callStore.moveParticipants(tx, call.tenant_id, call.id, 'ringing', { state: 'missed' });
    if (joined.length > 0)
      await callStore.moveParticipants(tx, call.tenant_id, call.id, 'joined', {
        state: 'left',
        left_at: now,
      });
    await callStore.updateCall(tx, call.tenant_id, call.id, { state: 'ended', outcome, ended_at: now });
    clearTimeout(timers.get(call.id));
    timers.delete(call.id);
    const frame: CallServerFrame = { type: 'call.ended', callId: call.id, outcome };
    return {
      outgoing: everyone.map((userId) => ({ userId, frame })),
      ended: {
        actor: { type: 'system' },
        action: 'call.ended',
        target: { type: 'call', id: call.id },
        outcome: 'success',
        details: {
          outcome,
          media: call.media,
          participants: participants.length,
          durationSeconds: call.answered_at === null ? 0 : Math.round((now - call.answered_at) / 1000),
        },
      },
    };
  }

  /**
   * Appends a transaction's audit entries; call it as the transaction's last statement. On PostgreSQL the
   * first append locks the tenant's chain head until commit, so anything after it would hold every other
   * call start and end of the tenant waiting. The entries stay in the transaction: a call is never recorded
   * without its audit entry, nor the other way round.
   */
  async function appendLast(tx: TenantTx, tenantId: string, entries: readonly AuditInput[]): Promise<void> {
    for (const entry of entries) await audit.append(tx, tenantId, entry);
  }

  /**
   * Runs a change under the call's lock, then sends what it produced. `work` writes its change and returns
   * the view with the change applied (or nothing, when there was nothing to change): the rows are held under
   * the lock, so they need not be read again.
   */
  async function change(
    tenantId: string,
    callId: string,
    work: (tx: TenantTx, view: CallView) => Promise<CallView | undefined>,
  ): Promise<void> {
    const outgoing = await storage.withTenant(tenantId, async (tx) => {
      const call = await callStore.lockCall(tx, tenantId, callId, storage.dialect);
      if (!call || call.state === 'ended') throw new AppError('not_found', 'No such call in progress.');
      const participants = await callStore.participants(tx, tenantId, [callId]);
      const changed = await work(tx, { call, participants });
      if (!changed) return [];
      const settled = await settle(tx, changed);
      await appendLast(tx, tenantId, settled.ended ? [settled.ended] : []);
      return settled.outgoing;
    });
    await emit(tenantId, outgoing);
  }

  /** Writes one participant's change and returns the view with it applied. */
  async function updateParticipant(
    tx: TenantTx,
    { call, participants }: CallView,
    userId: string,
    changes: Partial<ParticipantRow>,
  ): Promise<CallView> {
    await callStore.updateParticipant(tx, call.tenant_id, call.id, userId, changes);
    return {
      call,
      participants: participants.map((row) => (row.user_id === userId ? { ...row, ...changes } : row)),
    };
  }

  function participantOf(participants: readonly ParticipantRow[], userId: string): ParticipantRow {
    const participant = participants.find((row) => row.user_id === userId);
    if (!participant) throw new AppError('not_found', 'No such call in progress.');
    return participant;
  }

  async function activeMembers(tx: TenantTx, tenantId: string, dialogId: string) {
    return tx
      .selectFrom('dialog_members')
      .innerJoin('dialogs', 'dialogs.id', 'dialog_members.dialog_id')
      .select(['dialog_members.user_id', 'dialog_members.role', 'dialogs.type'])
      .where('dialog_members.tenant_id', '=', tenantId)
      .where('dialog_members.dialog_id', '=', dialogId)
      .where('dialog_members.left_at', 'is', null)
      .where('dialogs.deleted_at', 'is', null)
      .execute();
  }

  /**
   * Serialises one user's joins across calls (PostgreSQL row lock; SQLite serialises writers): two devices
   * accepting two different calls at once must not both pass the busy check.
   */
  async function lockUser(tx: TenantTx, tenantId: string, userId: string): Promise<void> {
    if (storage.dialect !== 'postgres') return;
    await tx
      .selectFrom('users')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', userId)
      .forUpdate()
      .execute();
  }

  /**
   * Who a call rings — the other user (sharing a dialog, no block), or a dialog's other members — and which
   * of them are busy. Refuses a caller already in a call; run it with the caller's row locked (`lockUser`).
   */
  async function calleesOf(tx: TenantTx, actor: CallActor, to: { userId: string } | { dialogId: string }) {
    if ('userId' in to) {
      if (to.userId === actor.userId) throw new AppError('validation_failed', 'You cannot call yourself.');
      const { callPolicy } = await deps.limits(tx, actor.tenantId);
      const pair = await callStore.pairChecks(tx, actor.tenantId, actor.userId, to.userId, callPolicy);
      if (!pair.reachable) throw new AppError('not_found', 'You can call people you share a dialog with.');
      if (pair.blocked) throw new AppError('blocked');
      if (pair.userBusy) throw new AppError('conflict', 'You are already in a call.');
      return { dialogId: null, callees: [to.userId], busy: new Set(pair.otherBusy ? [to.userId] : []) };
    }
    const members = await activeMembers(tx, actor.tenantId, to.dialogId);
    const me = members.find((row) => row.user_id === actor.userId);
    if (!me) throw new AppError('not_found');
    const dialogType = members[0]?.type;
    if (dialogType === 'broadcast' && me.role === 'member')
      throw new AppError('forbidden', 'Only the owner and admins call a broadcast dialog.');
    if (members.length > MAX_CALL_PARTICIPANTS)
      throw new AppError('call_too_large', `A call has at most ${MAX_CALL_PARTICIPANTS} participants.`);
    const others = members.map((row) => row.user_id).filter((id) => id !== actor.userId);
    // A block either way: a private dialog's call is refused; a group's rings everyone else.
    const reachable = [];
    for (const other of others)
      if (!(await relationships.eitherBlocked(tx, actor.tenantId, actor.userId, other)))
        reachable.push(other);
    if (dialogType === 'private' && reachable.length < others.length) throw new AppError('blocked');
    const busy = await callStore.busyAmong(tx, actor.tenantId, [actor.userId, ...reachable]);
    if (busy.has(actor.userId)) throw new AppError('conflict', 'You are already in a call.');
    return { dialogId: to.dialogId, callees: reachable, busy };
  }

  /**
   * A node that dies takes its connections' goodbyes with it: before anyone is judged busy, devices that no
   * longer have a live connection leave their calls.
   */
  async function leaveDeadDevices(tenantId: string, userIds: readonly string[]): Promise<void> {
    const joined = await storage.withTenant(tenantId, (tx) => callStore.joinedDevices(tx, tenantId, userIds));
    for (const entry of joined) {
      if (entry.device_id === null) continue;
      const live = await deps.liveDevices(tenantId, entry.user_id);
      if (live.has(entry.device_id)) continue;
      await service
        .hangup({ tenantId, userId: entry.user_id, deviceId: entry.device_id }, entry.call_id)
        .catch(() => undefined);
    }
  }

  const service = {
    async start(
      actor: CallActor,
      to: { userId: string } | { dialogId: string },
      media: 'audio' | 'video',
    ): Promise<{ callId: string }> {
      const attempts = await counter.increment(`call-start:${actor.tenantId}:${actor.userId}`, 60_000);
      if (attempts > CALL_STARTS_PER_MINUTE)
        throw new AppError('rate_limited', 'Too many calls; wait a minute.');
      await leaveDeadDevices(actor.tenantId, 'userId' in to ? [actor.userId, to.userId] : [actor.userId]);
      const callId = newId();
      const outgoing = await storage.withTenant(actor.tenantId, async (tx) => {
        await lockUser(tx, actor.tenantId, actor.userId);
        const { dialogId, callees, busy } = await calleesOf(tx, actor, to);
        const now = clock.now();
        const call: CallRow = {
          id: callId,
          tenant_id: actor.tenantId,
          dialog_id: dialogId,
          caller_id: actor.userId,
          caller_device_id: actor.deviceId,
          media,
          state: 'ringing',
          outcome: null,
          created_at: now,
          answered_at: null,
          ended_at: null,
        };
        const base = { tenant_id: actor.tenantId, call_id: callId, left_at: null };
        const participants: ParticipantRow[] = [
          { ...base, user_id: actor.userId, state: 'joined', device_id: actor.deviceId, joined_at: now },
          ...callees.map((callee) => ({
            ...base,
            user_id: callee,
            state: busy.has(callee) ? ('busy' as const) : ('ringing' as const),
            device_id: null,
            joined_at: null,
          })),
        ];
        await callStore.insertCall(tx, call);
        await callStore.insertParticipants(tx, participants);
        const incoming: CallServerFrame = {
          type: 'call.incoming',
          callId,
          callerId: actor.userId,
          media,
          dialogId,
          participantIds: [actor.userId, ...callees],
        };
        const ringing = callees.filter((callee) => !busy.has(callee));
        // Everyone busy ends the call at once: settle writes that, and `call.ended` follows `call.started`.
        const settled = await settle(tx, { call, participants });
        const started: AuditInput = {
          actor: { type: 'user', id: actor.userId },
          action: 'call.started',
          target: { type: 'call', id: callId },
          outcome: 'success',
          details: { media, participants: callees.length + 1, ...(dialogId === null ? {} : { dialogId }) },
        };
        await appendLast(tx, actor.tenantId, settled.ended ? [started, settled.ended] : [started]);
        return [...ringing.map((userId) => ({ userId, frame: incoming })), ...settled.outgoing];
      });
      await emit(actor.tenantId, outgoing);
      const timer = setTimeout(() => {
        timers.delete(callId);
        void service.ringTimeout(actor.tenantId, callId).catch(() => undefined);
      }, deps.ringTimeoutMs);
      timer.unref();
      timers.set(callId, timer);
      return { callId };
    },

    /** Accept on this device (first device wins), or join a group call in progress. */
    accept: (actor: CallActor, callId: string) =>
      change(actor.tenantId, callId, async (tx, view) => {
        const { call } = view;
        const me = participantOf(view.participants, actor.userId);
        if (call.state === 'ringing' && clock.now() - call.created_at > deps.ringTimeoutMs)
          throw new AppError('not_found', 'This call is no longer ringing.');
        if (call.dialog_id !== null) {
          // Still a member of the dialog, and no block with the caller since it started.
          const members = await activeMembers(tx, actor.tenantId, call.dialog_id);
          if (!members.some((row) => row.user_id === actor.userId)) throw new AppError('not_found');
        }
        await lockUser(tx, actor.tenantId, actor.userId);
        const pair = await callStore.pairChecks(tx, actor.tenantId, actor.userId, call.caller_id, null);
        if (pair.blocked) throw new AppError('blocked');
        if (me.state === 'joined')
          throw new AppError('conflict', 'You already joined this call on another device.');
        if (me.state !== 'ringing' && !(call.state === 'active' && me.state !== 'busy'))
          throw new AppError('conflict', 'This call can no longer be accepted.');
        if (pair.userBusy) throw new AppError('conflict', 'You are already in a call.');
        const now = clock.now();
        const joined = await updateParticipant(tx, view, actor.userId, {
          state: 'joined',
          device_id: actor.deviceId,
          joined_at: now,
          left_at: null,
        });
        if (call.state !== 'ringing') return joined;
        const answered = { state: 'active', answered_at: now } as const;
        await callStore.updateCall(tx, actor.tenantId, callId, answered);
        return { ...joined, call: { ...call, ...answered } };
      }),

    reject: (actor: CallActor, callId: string) =>
      change(actor.tenantId, callId, async (tx, view) => {
        const me = participantOf(view.participants, actor.userId);
        if (me.state !== 'ringing') throw new AppError('conflict', 'This call is not ringing for you.');
        return updateParticipant(tx, view, actor.userId, { state: 'rejected' });
      }),

    /** Leave the call (the caller hanging up while it rings cancels it). */
    hangup: (actor: CallActor, callId: string) =>
      change(actor.tenantId, callId, async (tx, view) => {
        const me = participantOf(view.participants, actor.userId);
        if (me.state !== 'joined' || me.device_id !== actor.deviceId)
          throw new AppError('conflict', 'You are not in this call on this device.');
        return updateParticipant(tx, view, actor.userId, { state: 'left', left_at: clock.now() });
      }),

    /** Relays SDP or ICE from a joined device to another joined device of the same call. */
    async signal(actor: CallActor, callId: string, toDeviceId: string, signal: CallSignal): Promise<void> {
      // Checked in the database every time: a device that just left must get nothing more relayed.
      const target = await storage.withTenant(actor.tenantId, async (tx) => {
        const participants = await callStore.participants(tx, actor.tenantId, [callId]);
        const joined = participants.filter((row) => row.state === 'joined');
        const from = joined.find((row) => row.user_id === actor.userId && row.device_id === actor.deviceId);
        const to = joined.find((row) => row.device_id === toDeviceId);
        if (!from || !to || to === from)
          throw new AppError('not_found', 'No such participant device in this call.');
        return to.user_id;
      });
      await emit(actor.tenantId, [
        {
          userId: target,
          deviceId: toDeviceId,
          frame: {
            type: 'call.signal',
            callId,
            fromUserId: actor.userId,
            fromDeviceId: actor.deviceId,
            signal,
          },
        },
      ]);
    },

    /** Nobody answered in time: those still ringing missed it. */
    ringTimeout: (tenantId: string, callId: string) =>
      change(tenantId, callId, async (tx, { call, participants }) => {
        if (!participants.some((row) => row.state === 'ringing')) return undefined;
        await callStore.moveParticipants(tx, tenantId, callId, 'ringing', { state: 'missed' });
        return {
          call,
          participants: participants.map((row) =>
            row.state === 'ringing' ? { ...row, state: 'missed' as const } : row,
          ),
        };
      }),

    /** A device's connection closed: it leaves every call it was in. */
    async deviceGone(actor: CallActor): Promise<void> {
      const callIds = await storage.withTenant(actor.tenantId, (tx) =>
        callStore.openCallsOfDevice(tx, actor.tenantId, actor.userId, actor.deviceId),
      );
      for (const callId of callIds) await service.hangup(actor, callId).catch(() => undefined);
    },

    /** Stops the ring timers (shutdown). */
    close(): void {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
  return service;
}

export type CallService = ReturnType<typeof createCallService>;
