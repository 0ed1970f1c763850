import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { SecurityCore } from '../crypto/security-core.ts';
import { KeyDestroyedError } from '../crypto/keyring.ts';
import type { FieldLocation } from '../crypto/field-cipher.ts';
import { newId } from '../ids.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import type { UserStatus } from '../storage/tables.ts';
import { decodeUserCursor, encodeUserCursor } from './user-list-cursor.ts';
import { type UserRow, userStore } from './user-store.ts';

/** The personal fields of a user; each is sealed under the user's own key before it is stored. */
export interface PersonalFields {
  displayName: string;
  email?: string | undefined;
  phone?: string | undefined;
  /** Free-form profile data (JSON object). */
  profile?: Record<string, unknown> | undefined;
}

export interface User {
  id: string;
  tenantId: string;
  status: UserRow['status'];
  /** Null when the user was erased (their key destroyed). */
  displayName: string | null;
  email: string | null;
  phone: string | null;
  profile: Record<string, unknown> | null;
  createdAt: string;
}

/** A user with their role names (sorted), as the tenant's administrators list them. */
export interface ListedUser extends User {
  roles: string[];
}

/** One page of `GET /v1/users`: `limit` users at most, after `cursor`, optionally of one status or role. */
export interface UserListRequest {
  limit: number;
  cursor?: string | undefined;
  status?: UserStatus | undefined;
  role?: string | undefined;
}

export interface UserServiceDeps {
  storage: Storage;
  security: SecurityCore;
  clock: Clock;
}

type SealedColumn = 'display_name' | 'email' | 'phone' | 'profile';

export function createUserService({ storage, security, clock }: UserServiceDeps) {
  const { keyring, fieldCipher, blindIndex } = security;
  const at = (tenantId: string, rowId: string, column: SealedColumn): FieldLocation => ({
    tenantId,
    table: 'users',
    column,
    rowId,
  });
  const sealOptional = (
    tx: TenantTx,
    tenantId: string,
    userId: string,
    column: SealedColumn,
    value?: string,
  ) =>
    value === undefined
      ? Promise.resolve(null)
      : fieldCipher.sealForUser(tx, at(tenantId, userId, column), userId, value);

  async function present(tx: TenantTx, row: UserRow): Promise<User> {
    const base = {
      id: row.id,
      tenantId: row.tenant_id,
      status: row.status,
      createdAt: new Date(row.created_at).toISOString(),
    };
    const openField = (column: SealedColumn, envelope: string | null) =>
      envelope === null
        ? Promise.resolve(null)
        : fieldCipher.open(tx, at(row.tenant_id, row.id, column), envelope, row.id);
    try {
      const [displayName, email, phone, profile] = await Promise.all([
        openField('display_name', row.display_name),
        openField('email', row.email),
        openField('phone', row.phone),
        openField('profile', row.profile),
      ]);
      return {
        ...base,
        displayName,
        email,
        phone,
        profile: profile === null ? null : (JSON.parse(profile) as Record<string, unknown>),
      };
    } catch (error) {
      if (error instanceof KeyDestroyedError)
        return { ...base, displayName: null, email: null, phone: null, profile: null };
      throw error;
    }
  }

  async function withRoles(tx: TenantTx, tenantId: string, rows: UserRow[]): Promise<ListedUser[]> {
    const roles = await userStore.rolesOfMany(
      tx,
      tenantId,
      rows.map((row) => row.id),
    );
    // Names and e-mails are sealed per user: each row is opened with its own user's key.
    const users = await Promise.all(rows.map((row) => present(tx, row)));
    return users.map((user) => ({ ...user, roles: roles.get(user.id) ?? [] }));
  }

  const service = {
    /** Creates a user inside the caller's transaction (so the act that creates it commits with it). */
    async createUserIn(tx: TenantTx, tenantId: string, fields: PersonalFields): Promise<User> {
      {
        const id = newId();
        const now = clock.now();
        await keyring.createUserKey(tx, tenantId, id);
        const emailIndex =
          fields.email === undefined ? null : await blindIndex.compute(tx, tenantId, 'email', fields.email);
        if (emailIndex !== null && (await userStore.findByEmailIndex(tx, tenantId, emailIndex))) {
          throw new AppError('conflict', 'A user with this e-mail address already exists.');
        }
        const row: UserRow = {
          id,
          tenant_id: tenantId,
          status: 'active',
          display_name: await fieldCipher.sealForUser(
            tx,
            at(tenantId, id, 'display_name'),
            id,
            fields.displayName,
          ),
          email: await sealOptional(tx, tenantId, id, 'email', fields.email),
          email_index: emailIndex,
          phone: await sealOptional(tx, tenantId, id, 'phone', fields.phone),
          phone_index:
            fields.phone === undefined ? null : await blindIndex.compute(tx, tenantId, 'phone', fields.phone),
          profile: await sealOptional(
            tx,
            tenantId,
            id,
            'profile',
            fields.profile && JSON.stringify(fields.profile),
          ),
          created_at: now,
          updated_at: now,
        };
        await userStore.insert(tx, row);
        return present(tx, row);
      }
    },

    async createUser(tenantId: string, fields: PersonalFields): Promise<User> {
      return storage.withTenant(tenantId, (tx) => service.createUserIn(tx, tenantId, fields));
    },

    async getUserIn(tx: TenantTx, tenantId: string, userId: string): Promise<User> {
      const row = await userStore.findById(tx, tenantId, userId);
      if (!row) throw new AppError('not_found');
      return present(tx, row);
    },

    async getUser(tenantId: string, userId: string): Promise<User> {
      return storage.withTenant(tenantId, (tx) => service.getUserIn(tx, tenantId, userId));
    },

    /** Exact-match lookup through the blind index; the e-mail itself is never queried in the clear. */
    async findByEmail(tenantId: string, email: string): Promise<User | undefined> {
      return storage.withTenant(tenantId, async (tx) => {
        const row = await userStore.findByEmailIndex(
          tx,
          tenantId,
          await blindIndex.compute(tx, tenantId, 'email', email),
        );
        return row && present(tx, row);
      });
    },

    /** The user with exactly this e-mail address and their roles, as the listing shows them. */
    async findListedByEmail(tenantId: string, email: string): Promise<ListedUser | undefined> {
      return storage.withTenant(tenantId, async (tx) => {
        const row = await userStore.findByEmailIndex(
          tx,
          tenantId,
          await blindIndex.compute(tx, tenantId, 'email', email),
        );
        return row && (await withRoles(tx, tenantId, [row]))[0];
      });
    },

    /**
     * A page of the tenant's users, oldest first. The cursor is a keyset position bound to the tenant and the
     * filters (`invalid_cursor` otherwise), so paging never skips or repeats a user, even while users are added.
     */
    async listUsers(
      tenantId: string,
      request: UserListRequest,
    ): Promise<{ users: ListedUser[]; nextCursor?: string }> {
      const scope = { tenantId, status: request.status, role: request.role };
      const after = request.cursor === undefined ? undefined : decodeUserCursor(request.cursor, scope);
      return storage.withTenant(tenantId, async (tx) => {
        // One more than asked: whether a next page exists without an empty last one.
        const rows = await userStore.page(tx, tenantId, {
          limit: request.limit + 1,
          after,
          status: request.status,
          role: request.role,
        });
        const shown = rows.slice(0, request.limit);
        const last = shown.at(-1);
        return {
          users: await withRoles(tx, tenantId, shown),
          ...(rows.length > request.limit && last
            ? { nextCursor: encodeUserCursor({ at: last.created_at, id: last.id }, scope) }
            : {}),
        };
      });
    },

    /**
     * A user's status and roles, the row locked until the transaction ends (PostgreSQL), for a status
     * change decided on them (restriction): a concurrent change waits instead of being overwritten.
     */
    async statusForChangeIn(
      tx: TenantTx,
      tenantId: string,
      userId: string,
    ): Promise<{ status: UserStatus; roles: string[] }> {
      const row = await userStore.lockById(tx, tenantId, userId, storage.dialect);
      if (!row) throw new AppError('not_found');
      return { status: row.status, roles: await userStore.roles(tx, tenantId, userId) };
    },

    async setStatusIn(tx: TenantTx, tenantId: string, userId: string, status: UserStatus): Promise<void> {
      await userStore.update(tx, tenantId, userId, { status, updated_at: clock.now() });
    },

    /**
     * Erasure by crypto-shredding: the user's key is destroyed, so their sealed fields are unreadable in
     * every copy; the blind indexes are cleared so the address can no longer be matched either.
     */
    async eraseUser(tenantId: string, userId: string): Promise<void> {
      await storage.withTenant(tenantId, async (tx) => {
        const row = await userStore.findById(tx, tenantId, userId);
        if (!row) throw new AppError('not_found');
        await keyring.destroyUserKey(tx, tenantId, userId);
        await userStore.update(tx, tenantId, userId, {
          status: 'erased',
          email_index: null,
          phone_index: null,
          updated_at: clock.now(),
        });
      });
    },
  };
  return service;
}

export type UserService = ReturnType<typeof createUserService>;
