import type { DialogPosition } from '@parley/protocol';
import type { PositionStore } from './position-store.ts';

/** The default {@link PositionStore}: positions last as long as the page or process. */
export class MemoryPositionStore implements PositionStore {
  readonly #positions = new Map<string, DialogPosition>();

  get(dialogId: string): DialogPosition | undefined {
    return this.#positions.get(dialogId);
  }

  set(dialogId: string, position: DialogPosition): void {
    this.#positions.set(dialogId, position);
  }

  delete(dialogId: string): void {
    this.#positions.delete(dialogId);
  }

  entries(): Iterable<[string, DialogPosition]> {
    return this.#positions.entries();
  }
}
