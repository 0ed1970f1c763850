import { createHash } from 'node:crypto';
import { AppError } from '../app-error.ts';
import type { KeysetPosition } from '../keyset-cursor.ts';

/** What a user listing is over: the tenant and the filters. A cursor is good for these only. */
export interface UserListScope {
  tenantId: string;
  status?: string | undefined;
  role?: string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Binds a cursor to its listing. The cursor is a position, not a capability (the tenant always comes from the
 * token, so a made-up position only skips rows of the caller's own tenant); the binding makes a cursor of
 * another tenant or other filters fail loudly instead of silently skipping or repeating users.
 */
function bindingOf(scope: UserListScope): string {
  return createHash('sha256')
    .update(JSON.stringify(['users', scope.tenantId, scope.status ?? null, scope.role ?? null]))
    .digest('base64url')
    .slice(0, 16);
}

export function encodeUserCursor(position: KeysetPosition, scope: UserListScope): string {
  return Buffer.from(JSON.stringify([position.at, position.id, bindingOf(scope)])).toString('base64url');
}

/** The position after which the next page starts, or `invalid_cursor` for anything else. */
export function decodeUserCursor(cursor: string, scope: UserListScope): KeysetPosition {
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parts = undefined;
  }
  if (Array.isArray(parts) && parts.length === 3) {
    const [at, id, binding] = parts as unknown[];
    if (Number.isSafeInteger(at) && typeof id === 'string' && UUID.test(id) && binding === bindingOf(scope))
      return { at: at as number, id };
  }
  throw new AppError('invalid_cursor');
}
