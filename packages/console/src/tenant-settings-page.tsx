import { useEffect, useState } from 'react';
import type { PageProps } from './console-page.ts';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { BUILT_IN_ROLES, spoken } from './permission-names.ts';
import { CheckField, NumberField, SelectField, SettingsSection } from './settings-fields.tsx';

/** `GET /v1/tenant/settings` (docs/access-control.md, docs/api.md). */
export interface TenantSettings {
  signupMode: 'open' | 'invite_only' | 'admin_created';
  passwordPolicy: {
    minLength: number;
    maxLength: number;
    requireUpper: boolean;
    requireLower: boolean;
    requireDigit: boolean;
    requireSymbol: boolean;
    minStrengthScore: number;
    historyCount: number;
    maxAgeDays: number;
    lockout: { maxFailures: number; baseDelaySeconds: number; maxDelaySeconds: number };
    ipLockout: { maxFailures: number; windowSeconds: number };
    mfaRequiredRoles: string[];
  };
  accessTokenTtlSeconds: number;
  idleTimeoutSeconds: number;
  refreshTokenTtlSeconds: number;
  messaging: {
    maxGroupMembers: number;
    maxMessageBytes: number;
    maxAttachmentBytes: number;
    editWindowSeconds: number;
    callPolicy: 'shared_dialog' | 'tenant';
  };
  privacy: { exportOthersMessages: 'full' | 'redacted' | 'none'; exportRetentionDays: number };
  /** Who-read-what records; absent from servers that predate the access log (the section is then hidden). */
  accessLogging?: 'on' | 'off' | 'preset';
}

type Section = 'signup' | 'password' | 'mfa' | 'sessions' | 'messaging' | 'privacy' | 'accessLog';

const num = (form: HTMLFormElement, name: string) => Number(fieldOf(form, name));
const checked = (form: HTMLFormElement, name: string) => fieldOf(form, name) === 'on';

/** What each section sends: a partial `PATCH /v1/tenant/settings` of its own fields only. */
const PATCHES: Record<Section, (form: HTMLFormElement) => object> = {
  signup: (form) => ({ signupMode: fieldOf(form, 'signupMode') }),
  password: (form) => ({
    passwordPolicy: {
      minLength: num(form, 'minLength'),
      maxLength: num(form, 'maxLength'),
      requireUpper: checked(form, 'requireUpper'),
      requireLower: checked(form, 'requireLower'),
      requireDigit: checked(form, 'requireDigit'),
      requireSymbol: checked(form, 'requireSymbol'),
      minStrengthScore: num(form, 'minStrengthScore'),
      historyCount: num(form, 'historyCount'),
      maxAgeDays: num(form, 'maxAgeDays'),
      lockout: {
        maxFailures: num(form, 'lockoutMaxFailures'),
        baseDelaySeconds: num(form, 'lockoutBaseDelaySeconds'),
        maxDelaySeconds: num(form, 'lockoutMaxDelaySeconds'),
      },
    },
  }),
  mfa: (form) => {
    const builtIn = BUILT_IN_ROLES.filter((role) => checked(form, `mfa-${role}`));
    const custom = fieldOf(form, 'mfaCustomRoles')
      .split(',')
      .map((role) => role.trim())
      .filter(Boolean);
    return { passwordPolicy: { mfaRequiredRoles: [...new Set([...builtIn, ...custom])] } };
  },
  sessions: (form) => ({
    accessTokenTtlSeconds: num(form, 'accessTokenTtlSeconds'),
    idleTimeoutSeconds: num(form, 'idleTimeoutSeconds'),
    refreshTokenTtlSeconds: num(form, 'refreshTokenTtlSeconds'),
  }),
  messaging: (form) => ({
    messaging: {
      maxGroupMembers: num(form, 'maxGroupMembers'),
      maxMessageBytes: num(form, 'maxMessageBytes'),
      maxAttachmentBytes: num(form, 'maxAttachmentBytes'),
      editWindowSeconds: num(form, 'editWindowSeconds'),
      callPolicy: fieldOf(form, 'callPolicy'),
    },
  }),
  accessLog: (form) => ({ accessLogging: fieldOf(form, 'accessLogging') }),
  privacy: (form) => ({
    privacy: {
      exportOthersMessages: fieldOf(form, 'exportOthersMessages'),
      exportRetentionDays: num(form, 'exportRetentionDays'),
    },
  }),
};

/** Tenant settings: read with `tenant.read`, changed section by section with `tenant.manage`. */
export function TenantSettingsPage({ client, permissions }: PageProps) {
  const [settings, setSettings] = useState<TenantSettings>();
  const [loadError, setLoadError] = useState<string>();
  const [busy, setBusy] = useState<Section>();
  const [messages, setMessages] = useState<Partial<Record<Section, string>>>({});
  const [version, setVersion] = useState(0);
  const canEdit = permissions.has('tenant.manage');
  useEffect(() => {
    client
      .request<TenantSettings>('GET', '/v1/tenant/settings')
      .then(setSettings)
      .catch((caught: unknown) => {
        setLoadError(errorText(caught));
      });
  }, [client]);

  if (!settings)
    return (
      <main>
        <h1>Tenant settings</h1>
        <p role="status">{loadError ?? 'Loading…'}</p>
      </main>
    );
  const save = (section: Section) => (form: HTMLFormElement) => {
    setBusy(section);
    setMessages((current) => ({ ...current, [section]: undefined }));
    client
      .request<TenantSettings>('PATCH', '/v1/tenant/settings', PATCHES[section](form))
      .then((saved) => {
        setSettings(saved);
        setVersion((current) => current + 1); // re-renders the forms with what the server kept
        setMessages((current) => ({ ...current, [section]: 'Saved.' }));
      })
      .catch((caught: unknown) => {
        setMessages((current) => ({ ...current, [section]: errorText(caught) }));
      })
      .finally(() => {
        setBusy(undefined);
      });
  };
  const common = (section: Section) => ({
    id: section,
    canEdit,
    busy: busy === section,
    message: messages[section],
    onSave: save(section),
  });
  const policy = settings.passwordPolicy;
  const customMfa = policy.mfaRequiredRoles.filter(
    (role) => !(BUILT_IN_ROLES as readonly string[]).includes(role),
  );
  return (
    <main>
      <h1>Tenant settings</h1>
      {canEdit ? null : <p>Your role may read these settings, not change them.</p>}
      <div className="columns" key={version}>
        <SettingsSection title="Sign-up" {...common('signup')}>
          <SelectField
            name="signupMode"
            label="Who may create an account"
            value={settings.signupMode}
            options={[
              ['admin_created', 'Only administrators create accounts'],
              ['invite_only', 'People with an invitation'],
              ['open', 'Anyone (open sign-up)'],
            ]}
          />
        </SettingsSection>
        <SettingsSection title="Two-factor enforcement" {...common('mfa')}>
          <p className="hint">
            Members of the checked roles must set up two-factor sign-in before they can work.
          </p>
          {BUILT_IN_ROLES.map((role) => (
            <CheckField
              key={role}
              name={`mfa-${role}`}
              label={`Require for ${spoken(role)}`}
              checked={policy.mfaRequiredRoles.includes(role)}
            />
          ))}
          <label>
            Custom roles that require it (comma-separated)
            <input name="mfaCustomRoles" defaultValue={customMfa.join(', ')} spellCheck={false} />
          </label>
        </SettingsSection>
        <SettingsSection title="Password policy" {...common('password')}>
          <NumberField
            name="minLength"
            label="Shortest password (characters)"
            value={policy.minLength}
            min={8}
            max={4096}
          />
          <NumberField
            name="maxLength"
            label="Longest password (characters)"
            value={policy.maxLength}
            min={64}
            max={4096}
          />
          <CheckField
            name="requireUpper"
            label="Require an upper-case letter"
            checked={policy.requireUpper}
          />
          <CheckField name="requireLower" label="Require a lower-case letter" checked={policy.requireLower} />
          <CheckField name="requireDigit" label="Require a digit" checked={policy.requireDigit} />
          <CheckField name="requireSymbol" label="Require a symbol" checked={policy.requireSymbol} />
          <NumberField
            name="minStrengthScore"
            label="Least strength score (0–4)"
            value={policy.minStrengthScore}
            min={0}
            max={4}
            hint="3 refuses keyboard walks, repeats and padded words; 0 turns the estimate off."
          />
          <NumberField
            name="historyCount"
            label="Previous passwords that may not be reused"
            value={policy.historyCount}
            min={0}
            max={24}
          />
          <NumberField
            name="maxAgeDays"
            label="Days before a password must change (0: never)"
            value={policy.maxAgeDays}
            min={0}
            max={3650}
          />
          <NumberField
            name="lockoutMaxFailures"
            label="Failed sign-ins before a delay"
            value={policy.lockout.maxFailures}
            min={1}
            max={100}
          />
          <NumberField
            name="lockoutBaseDelaySeconds"
            label="First delay (seconds)"
            value={policy.lockout.baseDelaySeconds}
            min={1}
            max={86_400}
          />
          <NumberField
            name="lockoutMaxDelaySeconds"
            label="Longest delay (seconds)"
            value={policy.lockout.maxDelaySeconds}
            min={1}
            max={2_592_000}
          />
        </SettingsSection>
        <SettingsSection title="Sessions" {...common('sessions')}>
          <NumberField
            name="accessTokenTtlSeconds"
            label="Access token lifetime (seconds)"
            value={settings.accessTokenTtlSeconds}
            min={60}
            max={86_400}
          />
          <NumberField
            name="idleTimeoutSeconds"
            label="Sign out after idle (seconds)"
            value={settings.idleTimeoutSeconds}
            min={60}
            max={86_400}
          />
          <NumberField
            name="refreshTokenTtlSeconds"
            label="Refresh token lifetime (seconds)"
            value={settings.refreshTokenTtlSeconds}
            min={3600}
            max={31_536_000}
          />
        </SettingsSection>
        <SettingsSection title="Messaging and calls" {...common('messaging')}>
          <NumberField
            name="maxGroupMembers"
            label="Most members in a group"
            value={settings.messaging.maxGroupMembers}
            min={2}
            max={100_000}
          />
          <NumberField
            name="maxMessageBytes"
            label="Largest message (bytes)"
            value={settings.messaging.maxMessageBytes}
            min={64}
            max={65_536}
          />
          <NumberField
            name="maxAttachmentBytes"
            label="Largest attachment (bytes)"
            value={settings.messaging.maxAttachmentBytes}
            min={1024}
            max={4 * 1024 ** 3}
          />
          <NumberField
            name="editWindowSeconds"
            label="Edit window (seconds, 0: no limit)"
            value={settings.messaging.editWindowSeconds}
            min={0}
            max={31_536_000}
          />
          <SelectField
            name="callPolicy"
            label="Who may call whom"
            value={settings.messaging.callPolicy}
            options={[
              ['shared_dialog', 'People who share a dialog'],
              ['tenant', 'Anyone in the tenant'],
            ]}
          />
        </SettingsSection>
        <SettingsSection title="Data exports" {...common('privacy')}>
          <SelectField
            name="exportOthersMessages"
            label="Other people's messages in a user's export"
            value={settings.privacy.exportOthersMessages}
            options={[
              ['redacted', 'Text kept, others named by pseudonym'],
              ['full', 'In full, senders named'],
              ['none', 'Left out'],
            ]}
          />
          <NumberField
            name="exportRetentionDays"
            label="Days an export stays downloadable"
            value={settings.privacy.exportRetentionDays}
            min={1}
            max={30}
          />
        </SettingsSection>
        {settings.accessLogging === undefined ? null : (
          <SettingsSection title="Access log" {...common('accessLog')}>
            <SelectField
              name="accessLogging"
              label="Record who read which personal data"
              value={settings.accessLogging}
              options={[
                ['preset', 'As the audit retention preset says (on for HIPAA)'],
                ['on', 'On'],
                ['off', 'Off'],
              ]}
            />
          </SettingsSection>
        )}
      </div>
    </main>
  );
}
