import {
  type Permission,
  type Scope,
  permissions as allPermissions,
  scopes as allScopes,
} from '@parley/protocol';
import { permissionsOf } from '../../access/roles.ts';
import type { TenantTx } from '../../storage/database.ts';
import { userStore } from '../user-store.ts';
import { type SessionRow, sessionStore } from './session-store.ts';

/** Who is calling: resolved from a bearer token on every request. */
export interface Principal {
  tenantId: string;
  sessionId: string;
  /** Null for a tenant's server (client_credentials). */
  userId: string | null;
  clientId: string | null;
  roles: readonly string[];
  permissions: ReadonlySet<Permission>;
  /** The scopes the token acts with now: only `profile` (if granted) while the user owes consent. */
  scopes: ReadonlySet<Scope>;
  /**
   * The user has not accepted the current version of a required processing purpose (docs/privacy.md): routes
   * outside `profile` answer `consent_required` until they do, and realtime sockets close.
   */
  consentRequired: boolean;
  /**
   * Set when operator staff act under a support access grant (compliance/support-access/): the principal then
   * holds only the grant's scope, and `sessionId` is the staff session's.
   */
  supportGrant?: { id: string; staffId: string };
}

/**
 * Whether a user owes acceptance of a required processing purpose (compliance/gdpr/consent-gate.ts), asked in
 * the transaction that resolves their token.
 */
export type ConsentCheck = (tx: TenantTx, tenantId: string, userId: string) => Promise<boolean>;

/** What a token may still do while its user owes consent: read and accept what changed. */
const CONSENT_PENDING_SCOPES: readonly Scope[] = ['profile'];

/** The scopes a session acts with: its own, narrowed to `profile` while consent is owed. */
export function effectiveScopes(scopes: readonly Scope[], consentRequired: boolean): Scope[] {
  return consentRequired ? scopes.filter((scope) => CONSENT_PENDING_SCOPES.includes(scope)) : [...scopes];
}

/**
 * What a tenant's own server (client_credentials) may never do: change tenant security settings, roles,
 * API clients, anyone's MFA or the processing purposes users agree to. Those stay with people, whose acts are
 * tied to a person in the audit log.
 */
const CLIENT_WITHHELD: readonly Permission[] = [
  'tenant.manage',
  'roles.manage',
  'clients.manage',
  'mfa.reset',
  'consent.manage',
  'support_access.manage',
];

/** The known scopes in a space-separated list, each once; unknown ones are dropped, not refused. */
export function parseScopes(scope: string | undefined): Scope[] {
  const requested = (scope ?? '').split(' ').filter(Boolean);
  return [...new Set(requested)].filter((entry): entry is Scope =>
    (allScopes as readonly string[]).includes(entry),
  );
}

/**
 * Builds the principal of a live session from the database, never from the token: roles and custom-role
 * permissions are read fresh, so a cached principal is only ever as stale as the eviction that drops it.
 */
export async function principalFor(
  tx: TenantTx,
  row: SessionRow,
  owesConsent: ConsentCheck,
): Promise<Principal> {
  const roles = row.user_id === null ? [] : await userStore.roles(tx, row.tenant_id, row.user_id);
  const custom = await sessionStore.customRoles(tx, row.tenant_id);
  const customMap = new Map(custom.map((role) => [role.name, JSON.parse(role.permissions) as Permission[]]));
  // A tenant's own server is no data subject: only users owe consent.
  const consentRequired = row.user_id !== null && (await owesConsent(tx, row.tenant_id, row.user_id));
  const scopes = new Set(effectiveScopes(parseScopes(row.scopes), consentRequired));
  // A tenant's own server acts for the tenant: its scopes are its limits; it has no user roles.
  const granted =
    row.user_id === null
      ? new Set<Permission>(allPermissions.filter((permission) => !CLIENT_WITHHELD.includes(permission)))
      : permissionsOf(roles, customMap);
  return {
    tenantId: row.tenant_id,
    sessionId: row.id,
    userId: row.user_id,
    clientId: row.client_id,
    roles,
    permissions: granted,
    scopes,
    consentRequired,
  };
}
