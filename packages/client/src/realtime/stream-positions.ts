import type { DialogPosition } from '@parley/protocol';
import type { PositionStore } from './position-store.ts';
import type { SequencedFrame } from './realtime-frames.ts';

/** Dialogs per `resume` frame: well under the server's 1000 and its frame-size limit. */
const RESUME_CHUNK = 200;

/**
 * The resume positions, and the rule that makes the app see each stream position once and in order:
 * a sequenced frame at or below the known `seq` of the same epoch is a duplicate (a replay overlapping a
 * delivery) and is dropped; anything else moves the position forward.
 */
export class StreamPositions {
  constructor(readonly store: PositionStore) {}

  /** True when the frame is new and the position moved to it; false for a duplicate to drop. */
  accept(frame: SequencedFrame): boolean {
    const known = this.store.get(frame.dialogId);
    if (known && known.epoch === frame.epoch && frame.seq <= known.seq) return false;
    this.store.set(frame.dialogId, { seq: frame.seq, epoch: frame.epoch });
    return true;
  }

  /** Starts from a position the app learned elsewhere (REST); false when the known one is already ahead. */
  track(dialogId: string, position: DialogPosition): boolean {
    const known = this.store.get(dialogId);
    if (known && known.epoch === position.epoch && known.seq >= position.seq) return false;
    this.store.set(dialogId, { seq: position.seq, epoch: position.epoch });
    return true;
  }

  forget(dialogId: string): void {
    this.store.delete(dialogId);
  }

  /** Every known position, in `resume`-sized pieces. */
  resumeChunks(): Record<string, DialogPosition>[] {
    const chunks: Record<string, DialogPosition>[] = [];
    let chunk: Record<string, DialogPosition> = {};
    let size = 0;
    for (const [dialogId, position] of this.store.entries()) {
      chunk[dialogId] = position;
      size += 1;
      if (size === RESUME_CHUNK) {
        chunks.push(chunk);
        chunk = {};
        size = 0;
      }
    }
    if (size > 0) chunks.push(chunk);
    return chunks;
  }
}
