import type { ServerFrame } from '@parley/protocol';
import type { UserHint } from '../messaging/message-fanout.ts';

/** A hint forwarded as it is (sequenced changes are read from the database instead). */
export type ForwardedHint = Exclude<UserHint, { kind: 'seq' }>;

/** The frame a hint becomes on the socket of `deviceId`, or undefined when it is for another device. */
export function hintFrame(hint: ForwardedHint, deviceId: string): ServerFrame | undefined {
  switch (hint.kind) {
    case 'receipt':
      return {
        type: 'receipt',
        dialogId: hint.dialogId,
        userId: hint.userId,
        deliveredSeq: hint.deliveredSeq,
        readSeq: hint.readSeq,
      };
    case 'typing':
      return { type: 'typing', dialogId: hint.dialogId, userId: hint.userId, state: hint.state };
    case 'call':
      return hint.deviceId === undefined || hint.deviceId === deviceId ? hint.frame : undefined;
  }
}
