import type { CreateDialogBody, DialogBody, UpdateDialogBody } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import { decodeKeysetCursor, encodeKeysetCursor } from '../keyset-cursor.ts';
import type { Clock } from '../clock.ts';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import { newId } from '../ids.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import { type DialogRow, dialogStore, type MemberRow } from './dialog-store.ts';
import { blockStore } from './block-store.ts';
import type { MessageAttachments } from './message-attachments.ts';
import { presentMessage } from './message-presenter.ts';
import type { MessagingLimits } from './messaging-limits.ts';

type SealedDialogColumn = 'name' | 'description' | 'custom_data';

/**
 * Dialogs: private (one per pair of users), group, broadcast (only owners/admins post) and public (any user
 * of the tenant may join). Names, descriptions and custom data are sealed with the tenant key.
 */
export function createDialogService(deps: {
  storage: Storage;
  fieldCipher: FieldCipher;
  clock: Clock;
  limits: (tx: TenantTx, tenantId: string) => Promise<MessagingLimits>;
  attachments: Pick<MessageAttachments, 'releaseDialog'>;
}) {
  const { storage, fieldCipher, clock, limits, attachments } = deps;
  const at = (tenantId: string, dialogId: string, column: SealedDialogColumn | 'body') => ({
    tenantId,
    table: column === 'body' ? 'messages' : 'dialogs',
    column,
    rowId: dialogId,
  });
  const seal = (
    tx: TenantTx,
    tenantId: string,
    id: string,
    column: SealedDialogColumn,
    value: string | undefined | null,
  ) =>
    value == null ? Promise.resolve(null) : fieldCipher.sealForTenant(tx, at(tenantId, id, column), value);
  const open = (
    tx: TenantTx,
    tenantId: string,
    id: string,
    column: SealedDialogColumn,
    value: string | null,
  ) => (value === null ? Promise.resolve(null) : fieldCipher.open(tx, at(tenantId, id, column), value));

  async function present(
    tx: TenantTx,
    dialog: DialogRow,
    member: MemberRow | undefined,
    userId: string,
  ): Promise<DialogBody> {
    const floor = member
      ? Math.max(member.cleared_seq, dialog.hide_history === 1 ? member.joined_seq : 0)
      : 0;
    const last =
      dialog.last_seq > floor
        ? await dialogStore.messageAt(tx, dialog.tenant_id, dialog.id, dialog.last_seq)
        : undefined;
    const customData = await open(tx, dialog.tenant_id, dialog.id, 'custom_data', dialog.custom_data);
    return {
      id: dialog.id,
      type: dialog.type,
      name: await open(tx, dialog.tenant_id, dialog.id, 'name', dialog.name),
      description: await open(tx, dialog.tenant_id, dialog.id, 'description', dialog.description),
      photoUrl: dialog.photo_url,
      customData: customData === null ? null : (JSON.parse(customData) as Record<string, unknown>),
      memberIds: await dialogStore.activeMemberIds(tx, dialog.tenant_id, dialog.id),
      myRole: member && member.left_at === null ? member.role : null,
      lastSeq: dialog.last_seq,
      unreadCount: member
        ? await dialogStore.unreadCount(
            tx,
            dialog.tenant_id,
            dialog.id,
            userId,
            Math.max(member.read_seq, floor),
          )
        : 0,
      muted: member?.muted === 1,
      pinned: member?.pinned === 1,
      lastMessage: last ? await presentMessage(tx, fieldCipher, last) : null,
      lastActivityAt: new Date(dialog.last_activity_at).toISOString(),
      createdAt: new Date(dialog.created_at).toISOString(),
    };
  }

  /** Active members of the tenant only: a dialog cannot include strangers or deactivated users. */
  async function checkUsers(tx: TenantTx, tenantId: string, userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    const found = await tx
      .selectFrom('users')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', [...userIds])
      .where('status', '=', 'active')
      .execute();
    if (found.length !== new Set(userIds).size) throw new AppError('not_found', 'A member does not exist.');
  }

  /** The caller's membership, or 404: another tenant's dialog, and one you are not in, look the same. */
  async function membership(tx: TenantTx, tenantId: string, dialogId: string, userId: string) {
    const dialog = await dialogStore.findDialog(tx, tenantId, dialogId);
    const member = dialog && (await dialogStore.member(tx, tenantId, dialogId, userId));
    if (!dialog) throw new AppError('not_found');
    if ((!member || member.left_at !== null) && dialog.type !== 'public') throw new AppError('not_found');
    return { dialog, member: member?.left_at === null ? member : undefined };
  }

  const service = {
    async create(tenantId: string, userId: string, body: CreateDialogBody): Promise<DialogBody> {
      const others = [...new Set(body.memberIds)].filter((id) => id !== userId);
      if (body.type === 'private' && others.length !== 1) {
        throw new AppError('validation_failed', 'A private dialog has exactly one other member.');
      }
      return storage.withTenant(tenantId, async (tx) => {
        const { maxGroupMembers } = await limits(tx, tenantId);
        if (others.length + 1 > maxGroupMembers)
          throw new AppError('dialog_full', `This tenant allows at most ${maxGroupMembers} members.`);
        await checkUsers(tx, tenantId, others);
        const [other] = others;
        if (body.type === 'private' && other && (await blockStore.eitherBlocked(tx, tenantId, userId, other)))
          throw new AppError('blocked');
        const now = clock.now();
        const pairKey = body.type === 'private' ? [userId, ...others].sort().join(':') : null;
        if (pairKey !== null) {
          const existing = await dialogStore.findPair(tx, tenantId, pairKey);
          if (existing && existing.deleted_at === null) {
            return present(tx, existing, await dialogStore.member(tx, tenantId, existing.id, userId), userId);
          }
        }
        const id = newId();
        const dialog: DialogRow = {
          id,
          tenant_id: tenantId,
          type: body.type,
          pair_key: pairKey,
          name: await seal(tx, tenantId, id, 'name', body.name),
          description: await seal(tx, tenantId, id, 'description', body.description),
          photo_url: body.photoUrl ?? null,
          custom_data: await seal(
            tx,
            tenantId,
            id,
            'custom_data',
            body.customData && JSON.stringify(body.customData),
          ),
          created_by: userId,
          hide_history: body.hideHistory ? 1 : 0,
          last_seq: 0,
          pruned_seq: 0,
          last_activity_at: now,
          created_at: now,
          deleted_at: null,
        };
        await dialogStore.insertDialog(tx, dialog);
        const roleOf = (memberId: string): MemberRow['role'] =>
          body.type === 'private' || memberId !== userId ? 'member' : 'owner';
        for (const memberId of [userId, ...others]) {
          await dialogStore.insertMember(tx, {
            tenant_id: tenantId,
            dialog_id: id,
            user_id: memberId,
            role: roleOf(memberId),
            joined_seq: 0,
            joined_at: now,
            left_at: null,
            read_seq: 0,
            delivered_seq: 0,
            cleared_seq: 0,
            muted: 0,
            pinned: 0,
          });
        }
        return present(tx, dialog, await dialogStore.member(tx, tenantId, id, userId), userId);
      });
    },

    async list(tenantId: string, userId: string, page: { limit: number; cursor?: string | undefined }) {
      const before = page.cursor === undefined ? undefined : decodeKeysetCursor(page.cursor);
      return storage.withTenant(tenantId, async (tx) => {
        const rows = await dialogStore.dialogsOf(tx, tenantId, userId, { limit: page.limit, before });
        const dialogs = [];
        for (const row of rows)
          dialogs.push(
            await present(tx, row, await dialogStore.member(tx, tenantId, row.id, userId), userId),
          );
        const last = rows.at(-1);
        return {
          dialogs,
          ...(rows.length === page.limit && last
            ? { nextCursor: encodeKeysetCursor({ at: last.last_activity_at, id: last.id }) }
            : {}),
        };
      });
    },

    async get(tenantId: string, userId: string, dialogId: string): Promise<DialogBody> {
      return storage.withTenant(tenantId, async (tx) => {
        const { dialog, member } = await membership(tx, tenantId, dialogId, userId);
        return present(tx, dialog, member, userId);
      });
    },

    /** Dialog fields need owner or admin; mute and pin are the caller's own. */
    async update(
      tenantId: string,
      userId: string,
      dialogId: string,
      changes: UpdateDialogBody,
    ): Promise<DialogBody> {
      return storage.withTenant(tenantId, async (tx) => {
        const { dialog, member } = await membership(tx, tenantId, dialogId, userId);
        if (!member) throw new AppError('not_found');
        const touchesDialog = ['name', 'description', 'photoUrl', 'customData'].some((key) => key in changes);
        if (touchesDialog && (dialog.type === 'private' || member.role === 'member')) {
          throw new AppError('forbidden', 'Only the dialog’s owner or admins can change it.');
        }
        const update: Partial<DialogRow> = {};
        if (changes.name !== undefined)
          update.name = await seal(tx, tenantId, dialogId, 'name', changes.name);
        if (changes.description !== undefined)
          update.description = await seal(tx, tenantId, dialogId, 'description', changes.description);
        if (changes.photoUrl !== undefined) update.photo_url = changes.photoUrl;
        if (changes.customData !== undefined) {
          update.custom_data = await seal(
            tx,
            tenantId,
            dialogId,
            'custom_data',
            changes.customData && JSON.stringify(changes.customData),
          );
        }
        if (Object.keys(update).length > 0) await dialogStore.updateDialog(tx, tenantId, dialogId, update);
        const own: Partial<MemberRow> = {};
        if (changes.muted !== undefined) own.muted = changes.muted ? 1 : 0;
        if (changes.pinned !== undefined) own.pinned = changes.pinned ? 1 : 0;
        if (Object.keys(own).length > 0) await dialogStore.updateMember(tx, tenantId, dialogId, userId, own);
        const fresh = await dialogStore.findDialog(tx, tenantId, dialogId);
        return present(tx, fresh ?? dialog, await dialogStore.member(tx, tenantId, dialogId, userId), userId);
      });
    },

    /** `clear`: delete for me (history hidden); `leave`: stop being a member; `everyone`: owner deletes it. */
    async remove(
      tenantId: string,
      userId: string,
      dialogId: string,
      mode: 'clear' | 'leave' | 'everyone',
    ): Promise<void> {
      await storage.withTenant(tenantId, async (tx) => {
        const { dialog, member } = await membership(tx, tenantId, dialogId, userId);
        if (!member) throw new AppError('not_found');
        if (mode === 'everyone') {
          if (member.role !== 'owner')
            throw new AppError('forbidden', 'Only the owner can delete the dialog for everyone.');
          await dialogStore.updateDialog(tx, tenantId, dialogId, { deleted_at: clock.now() });
          // Its files go with it, unless a message in another dialog (a forward) still shares them.
          await attachments.releaseDialog(tx, tenantId, dialogId);
          return;
        }
        const changes: Partial<MemberRow> = { cleared_seq: dialog.last_seq };
        if (mode === 'leave') changes.left_at = clock.now();
        await dialogStore.updateMember(tx, tenantId, dialogId, userId, changes);
      });
    },

    /** Public dialogs: any active user of the tenant joins; they see history unless the dialog hides it. */
    async join(tenantId: string, userId: string, dialogId: string): Promise<DialogBody> {
      return storage.withTenant(tenantId, async (tx) => {
        const dialog = await dialogStore.lockDialog(tx, tenantId, dialogId, storage.dialect);
        if (dialog?.type !== 'public') throw new AppError('not_found');
        const existing = await dialogStore.member(tx, tenantId, dialogId, userId);
        if (existing) {
          // Rejoining is as a plain member: a former admin (or owner) who left does not get the role back.
          await dialogStore.updateMember(tx, tenantId, dialogId, userId, {
            left_at: null,
            role: existing.left_at === null ? existing.role : 'member',
            joined_seq: dialog.last_seq,
          });
        } else {
          await dialogStore.insertMember(tx, {
            tenant_id: tenantId,
            dialog_id: dialogId,
            user_id: userId,
            role: 'member',
            joined_seq: dialog.last_seq,
            joined_at: clock.now(),
            left_at: null,
            read_seq: dialog.last_seq,
            delivered_seq: dialog.last_seq,
            cleared_seq: 0,
            muted: 0,
            pinned: 0,
          });
        }
        return present(tx, dialog, await dialogStore.member(tx, tenantId, dialogId, userId), userId);
      });
    },

    membership,
    present,
    checkUsers,
  };
  return service;
}

export type DialogService = ReturnType<typeof createDialogService>;
