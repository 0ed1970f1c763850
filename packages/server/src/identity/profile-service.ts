import type { ProfileBody, UpdateProfileBody } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { AuditLog } from '../compliance/audit/audit-log.ts';
import type { RequestContext } from '../compliance/audit/request-context.ts';
import type { SecurityCore } from '../crypto/security-core.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import type { UserService } from './user-service.ts';
import { userStore } from './user-store.ts';

/** The fields a correction may change: the profile's, and the e-mail address (administrators only). */
export type ProfileCorrection = UpdateProfileBody & { email?: string | undefined };

type SealedColumn = 'display_name' | 'email' | 'phone' | 'profile' | 'avatar_url';

export interface Actor {
  userId: string;
  sessionId: string;
}

/** A user's own account as they see and edit it. Personal fields stay sealed under the user's key. */
export function createProfileService(deps: {
  storage: Storage;
  security: SecurityCore;
  users: UserService;
  audit: AuditLog;
  clock: Clock;
}) {
  const { storage, security, users, audit, clock } = deps;

  async function profileIn(tx: TenantTx, tenantId: string, userId: string): Promise<ProfileBody> {
    const user = await users.getUserIn(tx, tenantId, userId);
    const row = await userStore.findById(tx, tenantId, userId);
    const roles = await userStore.roles(tx, tenantId, userId);
    return {
      id: user.id,
      tenantId: user.tenantId,
      status: user.status,
      displayName: user.displayName,
      email: user.email,
      emailVerified: row?.email_verified_at != null,
      phone: user.phone,
      avatarUrl:
        row?.avatar_url == null
          ? null
          : await security.fieldCipher.open(
              tx,
              { tenantId, table: 'users', column: 'avatar_url', rowId: userId },
              row.avatar_url,
              userId,
            ),
      customData: user.profile,
      roles,
      mfaEnabled: row?.totp_enabled_at != null,
      createdAt: user.createdAt,
    };
  }

  const service = {
    getProfile: (tenantId: string, userId: string) =>
      storage.withTenant(tenantId, (tx) => profileIn(tx, tenantId, userId)),

    /**
     * Writes corrected personal fields inside the caller's transaction and names the fields it changed.
     * A restricted account is not changed (GDPR Art. 18) unless `whileRestricted` says the change answers the
     * subject's own rectification request (the contested accuracy the restriction is for); a new e-mail
     * address must be free in the tenant and counts as unconfirmed until its owner confirms it.
     */
    async correctIn(
      tx: TenantTx,
      tenantId: string,
      userId: string,
      changes: ProfileCorrection,
      options: { whileRestricted?: boolean } = {},
    ): Promise<string[]> {
      const row = await userStore.lockById(tx, tenantId, userId, storage.dialect);
      if (!row || row.status === 'erased') throw new AppError('not_found');
      if (row.status === 'restricted' && options.whileRestricted !== true)
        throw new AppError('account_restricted');
      const at = (column: SealedColumn) => ({ tenantId, table: 'users', column, rowId: userId });
      const seal = (column: SealedColumn, value: string) =>
        security.fieldCipher.sealForUser(tx, at(column), userId, value);
      const update: Parameters<typeof userStore.update>[3] = { updated_at: clock.now() };
      if (changes.displayName !== undefined)
        update.display_name = await seal('display_name', changes.displayName);
      if (changes.email !== undefined) {
        const emailIndex = await security.blindIndex.compute(tx, tenantId, 'email', changes.email);
        const holder = await userStore.findByEmailIndex(tx, tenantId, emailIndex);
        if (holder && holder.id !== userId)
          throw new AppError('conflict', 'A user with this e-mail address already exists.');
        if (holder?.id !== userId) {
          update.email = await seal('email', changes.email);
          update.email_index = emailIndex;
          update.email_verified_at = null;
        }
      }
      if (changes.phone !== undefined) {
        update.phone = changes.phone === null ? null : await seal('phone', changes.phone);
        update.phone_index =
          changes.phone === null
            ? null
            : await security.blindIndex.compute(tx, tenantId, 'phone', changes.phone);
      }
      if (changes.customData !== undefined) {
        update.profile =
          changes.customData === null ? null : await seal('profile', JSON.stringify(changes.customData));
      }
      if (changes.avatarUrl !== undefined)
        update.avatar_url = changes.avatarUrl === null ? null : await seal('avatar_url', changes.avatarUrl);
      await userStore.update(tx, tenantId, userId, update);
      return Object.keys(changes).sort();
    },

    async updateProfile(
      tenantId: string,
      actor: Actor,
      changes: UpdateProfileBody,
      context: RequestContext,
    ): Promise<ProfileBody> {
      return storage.withTenant(tenantId, async (tx) => {
        const fields = await service.correctIn(tx, tenantId, actor.userId, changes);
        await audit.append(tx, tenantId, {
          actor: { type: 'user', id: actor.userId, sessionId: actor.sessionId },
          action: 'user.profile_updated',
          target: { type: 'user', id: actor.userId },
          outcome: 'success',
          ...context,
          // Which fields changed, never their values: details are stored in the clear.
          details: { fields },
        });
        return profileIn(tx, tenantId, actor.userId);
      });
    },
  };
  return service;
}

export type ProfileService = ReturnType<typeof createProfileService>;
