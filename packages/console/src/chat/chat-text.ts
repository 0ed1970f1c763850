import { RealtimeError } from '@parley/client';
import type { DialogBody } from '@parley/protocol';
import { errorText } from '../error-text.ts';

/** The signed-in user, as the labels need them. */
interface Me {
  id: string;
  displayName: string | null;
}

/** What the chat says for a realtime refusal; REST and sign-in errors are worded as in the console. */
const REALTIME_WORDING: Readonly<Record<string, string>> = {
  closed: 'Signed out.',
  disconnected: 'Not connected: try again once the connection is back.',
  queue_full: 'Too many messages are waiting to be sent.',
  frame_too_large: 'The message is too long.',
  unauthorized: 'Your session ended. Sign in again.',
  forbidden: 'This session may not chat.',
};

export function chatErrorText(error: unknown): string {
  if (error instanceof RealtimeError)
    return `${REALTIME_WORDING[error.code] ?? error.message} (code ${error.code})`;
  return errorText(error);
}

/**
 * How the app names a user. The API gives chat members no directory of other users' names (only an admin
 * may look users up), so others are named by the start of their id; the signed-in user by their own name.
 */
export function userLabel(userId: string, me: Me): string {
  return userId === me.id ? `${me.displayName ?? 'You'} (you)` : `User ${userId.slice(0, 8)}`;
}

/** A dialog's name, or for a private dialog without one, the other member. */
export function dialogLabel(dialog: DialogBody, me: Me): string {
  if (dialog.name !== null && dialog.name !== '') return dialog.name;
  const others = dialog.memberIds.filter((id) => id !== me.id);
  if (dialog.type === 'private' && others[0] !== undefined) return userLabel(others[0], me);
  return `${dialog.type} dialog ${dialog.id.slice(0, 8)}`;
}

/** The other member of a private dialog. */
export function peerOf(dialog: DialogBody, myId: string): string | undefined {
  return dialog.type === 'private' ? dialog.memberIds.find((id) => id !== myId) : undefined;
}

export function timeOf(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function sizeOf(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
