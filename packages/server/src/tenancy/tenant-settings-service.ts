import type { ExportPrivacySettings } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { AuditLog } from '../compliance/audit/audit-log.ts';
import type { RequestContext } from '../compliance/audit/request-context.ts';
import { passwordPolicySchema, type PasswordPolicy } from '../identity/passwords/password-policy.ts';
import type { Actor } from '../identity/profile-service.ts';
import { loadPasswordPolicy } from '../identity/passwords/tenant-policy.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import type { SignupMode } from '../storage/tables.ts';
import { defaultMessagingLimits, type MessagingLimits } from '../messaging/messaging-limits.ts';
import { tenantSettingsStore } from './tenant-settings-store.ts';

/** The messaging limits as stored, read inside the caller's transaction (one primary-key lookup). */
export async function messagingLimitsIn(tx: TenantTx, tenantId: string): Promise<MessagingLimits> {
  const row = await tenantSettingsStore.get(tx, tenantId);
  return {
    maxGroupMembers: row?.max_group_members ?? defaultMessagingLimits.maxGroupMembers,
    maxMessageBytes: row?.max_message_bytes ?? defaultMessagingLimits.maxMessageBytes,
    maxAttachmentBytes: row?.max_attachment_bytes ?? defaultMessagingLimits.maxAttachmentBytes,
    editWindowSeconds: row?.edit_window_seconds ?? defaultMessagingLimits.editWindowSeconds,
    callPolicy: row?.call_policy ?? defaultMessagingLimits.callPolicy,
  };
}

/** A tenant's data export policy unless it chose otherwise (docs/privacy.md, "Access and portability"). */
export const defaultExportSettings: ExportPrivacySettings = {
  exportOthersMessages: 'redacted',
  exportRetentionDays: 7,
};

/** The data export policy as stored, read inside the caller's transaction. */
export async function exportSettingsIn(tx: TenantTx, tenantId: string): Promise<ExportPrivacySettings> {
  const row = await tenantSettingsStore.get(tx, tenantId);
  return {
    exportOthersMessages: row?.export_others_messages ?? defaultExportSettings.exportOthersMessages,
    exportRetentionDays: row?.export_retention_days ?? defaultExportSettings.exportRetentionDays,
  };
}

/**
 * Access logging (compliance/access-log/): `on`, `off`, or `preset` — on exactly while the tenant's audit
 * retention preset is `hipaa`.
 */
export type AccessLoggingSetting = 'on' | 'off' | 'preset';

/** The access logging setting as stored, read inside the caller's transaction. */
export async function accessLoggingIn(tx: TenantTx, tenantId: string): Promise<AccessLoggingSetting> {
  return (await tenantSettingsStore.get(tx, tenantId))?.access_logging ?? 'preset';
}

export interface TenantSettings {
  signupMode: SignupMode;
  passwordPolicy: PasswordPolicy;
  accessTokenTtlSeconds: number;
  idleTimeoutSeconds: number;
  refreshTokenTtlSeconds: number;
  messaging: MessagingLimits;
  privacy: ExportPrivacySettings;
  accessLogging: AccessLoggingSetting;
}

export type TenantSettingsChanges = Partial<
  Omit<TenantSettings, 'passwordPolicy' | 'messaging' | 'privacy'>
> & {
  passwordPolicy?: Record<string, unknown>;
  messaging?: Partial<MessagingLimits>;
  privacy?: Partial<ExportPrivacySettings>;
};

/** Per-tenant security settings, changed by owners, every change audited with what it was before. */
export function createTenantSettingsService(deps: { storage: Storage; audit: AuditLog; clock: Clock }) {
  const { storage, audit, clock } = deps;

  const read = (tenantId: string) =>
    storage.withTenant(tenantId, async (tx): Promise<TenantSettings> => {
      const row = await tenantSettingsStore.get(tx, tenantId);
      return {
        signupMode: row?.signup_mode ?? 'admin_created',
        passwordPolicy: await loadPasswordPolicy(tx, tenantId),
        accessTokenTtlSeconds: row?.access_token_ttl_seconds ?? 3600,
        idleTimeoutSeconds: row?.idle_timeout_seconds ?? 900,
        refreshTokenTtlSeconds: row?.refresh_token_ttl_seconds ?? 2_592_000,
        messaging: await messagingLimitsIn(tx, tenantId),
        privacy: await exportSettingsIn(tx, tenantId),
        accessLogging: row?.access_logging ?? 'preset',
      };
    });

  return {
    get: read,

    async update(
      tenantId: string,
      actor: Actor,
      changes: TenantSettingsChanges,
      context: RequestContext,
    ): Promise<TenantSettings> {
      const before = await read(tenantId);
      const policy = passwordPolicySchema.safeParse({ ...before.passwordPolicy, ...changes.passwordPolicy });
      if (!policy.success) {
        const issue = policy.error.issues[0];
        throw new AppError(
          'validation_failed',
          `passwordPolicy.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}.`,
        );
      }
      const after: TenantSettings = {
        ...before,
        ...changes,
        passwordPolicy: policy.data,
        messaging: { ...before.messaging, ...changes.messaging },
        privacy: { ...before.privacy, ...changes.privacy },
      };
      await storage.withTenant(tenantId, async (tx) => {
        await tenantSettingsStore.upsert(tx, {
          tenant_id: tenantId,
          signup_mode: after.signupMode,
          password_policy: JSON.stringify(after.passwordPolicy),
          access_token_ttl_seconds: after.accessTokenTtlSeconds,
          idle_timeout_seconds: after.idleTimeoutSeconds,
          refresh_token_ttl_seconds: after.refreshTokenTtlSeconds,
          max_group_members: after.messaging.maxGroupMembers,
          max_message_bytes: after.messaging.maxMessageBytes,
          max_attachment_bytes: after.messaging.maxAttachmentBytes,
          edit_window_seconds: after.messaging.editWindowSeconds,
          call_policy: after.messaging.callPolicy,
          export_others_messages: after.privacy.exportOthersMessages,
          export_retention_days: after.privacy.exportRetentionDays,
          access_logging: after.accessLogging === 'preset' ? null : after.accessLogging,
          updated_at: clock.now(),
        });
        await audit.append(tx, tenantId, {
          actor: { type: 'user', id: actor.userId, sessionId: actor.sessionId },
          action: 'tenant.settings_changed',
          target: { type: 'tenant', id: tenantId },
          outcome: 'success',
          ...context,
          details: JSON.parse(JSON.stringify({ before, after })) as Record<string, never>,
        });
      });
      return after;
    },
  };
}

export type TenantSettingsService = ReturnType<typeof createTenantSettingsService>;
