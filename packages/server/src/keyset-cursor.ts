import { AppError } from './app-error.ts';

/** A position in a list ordered by time then id, newest first: opaque to clients, checked when read back. */
export interface KeysetPosition {
  at: number;
  id: string;
}

export function encodeKeysetCursor(position: KeysetPosition): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString('base64url');
}

/** The position, or `validation_failed` for anything a client made up or mangled. */
export function decodeKeysetCursor(cursor: string): KeysetPosition {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof at === 'number' && typeof id === 'string') return { at, id };
  } catch {
    // fall through
  }
  throw new AppError('validation_failed', 'The cursor is not valid.');
}
