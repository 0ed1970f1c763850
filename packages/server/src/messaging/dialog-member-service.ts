import type { DialogBody } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import type { DialogService } from './dialog-service.ts';
import { type DialogRow, dialogStore, type MemberRow } from './dialog-store.ts';
import type { MessagingLimits } from './messaging-limits.ts';

/**
 * Membership of groups, broadcasts and public dialogs: owners and admins add and remove members and name
 * admins; only the owner names or demotes admins. Private dialogs have a fixed pair.
 */
export function createDialogMemberService(deps: {
  storage: Storage;
  clock: Clock;
  dialogs: DialogService;
  limits: (tx: TenantTx, tenantId: string) => Promise<MessagingLimits>;
}) {
  const { storage, clock, dialogs, limits } = deps;

  /** The dialog locked (membership changes are serialised per dialog) and the caller's active membership. */
  async function asManager(tx: TenantTx, tenantId: string, dialogId: string, userId: string) {
    const dialog = await dialogStore.lockDialog(tx, tenantId, dialogId, storage.dialect);
    const member = dialog && (await dialogStore.member(tx, tenantId, dialogId, userId));
    if (!dialog || !member || member.left_at !== null) throw new AppError('not_found');
    if (dialog.type === 'private')
      throw new AppError('forbidden', 'A private dialog always has the same two members.');
    if (member.role === 'member')
      throw new AppError('forbidden', 'Only the dialog’s owner or admins manage members.');
    return { dialog, member };
  }

  async function addOne(tx: TenantTx, dialog: DialogRow, userId: string): Promise<void> {
    const existing = await dialogStore.member(tx, dialog.tenant_id, dialog.id, userId);
    const joinedSeq = dialog.last_seq;
    if (existing?.left_at === null) return;
    if (existing) {
      // Back as a plain member: a former admin's role is not restored by whoever re-adds them.
      await dialogStore.updateMember(tx, dialog.tenant_id, dialog.id, userId, {
        left_at: null,
        role: 'member',
        joined_seq: joinedSeq,
        joined_at: clock.now(),
      });
      return;
    }
    await dialogStore.insertMember(tx, {
      tenant_id: dialog.tenant_id,
      dialog_id: dialog.id,
      user_id: userId,
      role: 'member',
      joined_seq: joinedSeq,
      joined_at: clock.now(),
      left_at: null,
      read_seq: dialog.hide_history === 1 ? joinedSeq : 0,
      delivered_seq: dialog.hide_history === 1 ? joinedSeq : 0,
      cleared_seq: 0,
      muted: 0,
      pinned: 0,
    });
  }

  return {
    async add(tenantId: string, userId: string, dialogId: string, userIds: string[]): Promise<DialogBody> {
      return storage.withTenant(tenantId, async (tx) => {
        const { dialog } = await asManager(tx, tenantId, dialogId, userId);
        const newcomers = [...new Set(userIds)];
        await dialogs.checkUsers(tx, tenantId, newcomers);
        const current = await dialogStore.activeMemberIds(tx, tenantId, dialogId);
        const total = new Set([...current, ...newcomers]).size;
        const { maxGroupMembers } = await limits(tx, tenantId);
        if (total > maxGroupMembers)
          throw new AppError('dialog_full', `This tenant allows at most ${maxGroupMembers} members.`);
        for (const newcomer of newcomers) await addOne(tx, dialog, newcomer);
        await dialogStore.updateDialog(tx, tenantId, dialogId, { last_activity_at: clock.now() });
        return dialogs.present(tx, dialog, await dialogStore.member(tx, tenantId, dialogId, userId), userId);
      });
    },

    /** Removes a member (admins cannot remove the owner or, unless owner, other admins). */
    async remove(tenantId: string, userId: string, dialogId: string, memberId: string): Promise<void> {
      await storage.withTenant(tenantId, async (tx) => {
        const { member } = await asManager(tx, tenantId, dialogId, userId);
        const target = await dialogStore.member(tx, tenantId, dialogId, memberId);
        if (!target || target.left_at !== null) throw new AppError('not_found');
        if (target.role === 'owner') throw new AppError('forbidden', 'The owner cannot be removed.');
        if (target.role === 'admin' && member.role !== 'owner')
          throw new AppError('forbidden', 'Only the owner removes admins.');
        await dialogStore.updateMember(tx, tenantId, dialogId, memberId, { left_at: clock.now() });
      });
    },

    /** The owner promotes members to admin or demotes them. */
    async setRole(
      tenantId: string,
      userId: string,
      dialogId: string,
      memberId: string,
      role: Exclude<MemberRow['role'], 'owner'>,
    ): Promise<void> {
      await storage.withTenant(tenantId, async (tx) => {
        const { member } = await asManager(tx, tenantId, dialogId, userId);
        if (member.role !== 'owner') throw new AppError('forbidden', 'Only the owner names admins.');
        const target = await dialogStore.member(tx, tenantId, dialogId, memberId);
        if (!target || target.left_at !== null) throw new AppError('not_found');
        if (target.role === 'owner') throw new AppError('forbidden', 'The owner’s role cannot change.');
        await dialogStore.updateMember(tx, tenantId, dialogId, memberId, { role });
      });
    },
  };
}

export type DialogMemberService = ReturnType<typeof createDialogMemberService>;
