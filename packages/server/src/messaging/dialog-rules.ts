import { AppError } from '../app-error.ts';
import type { TenantTx } from '../storage/database.ts';
import { blockStore } from './block-store.ts';
import type { DialogRow, MemberRow } from './dialog-store.ts';

/** The lowest sequence number above which a member sees the dialog's messages. */
export function visibleFloor(dialog: DialogRow, member: MemberRow | undefined): number {
  return member ? Math.max(member.cleared_seq, dialog.hide_history === 1 ? member.joined_seq : 0) : 0;
}

/** In a private dialog, a block by either side stops messages. */
export async function refuseIfBlocked(tx: TenantTx, dialog: DialogRow, senderId: string): Promise<void> {
  if (dialog.type !== 'private' || dialog.pair_key === null) return;
  const other = dialog.pair_key.split(':').find((id) => id !== senderId);
  if (other !== undefined && (await blockStore.eitherBlocked(tx, dialog.tenant_id, senderId, other)))
    throw new AppError('blocked');
}
