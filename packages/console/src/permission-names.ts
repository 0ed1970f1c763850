import type { BuiltInRole, Permission, Scope } from '@parley/protocol';

/*
 * The protocol's lists, spelled here rather than imported: the protocol package's runtime entry carries its zod
 * schemas, which the console does not need. The `Complete` checks below fail the type check when the protocol
 * gains an entry this file lacks. (PERMISSIONS is not held to `Permission[]` the other way: a permission may be
 * listed here a little before the protocol change that adds it is committed; the server refuses unknown ones.)
 */

export const BUILT_IN_ROLES = [
  'member',
  'guest',
  'support_agent',
  'compliance_officer',
  'admin',
  'owner',
] as const satisfies readonly BuiltInRole[];

export const SCOPES = ['profile', 'chat', 'calls', 'admin', 'audit'] as const satisfies readonly Scope[];

export const PERMISSIONS = [
  'profile.read',
  'profile.update',
  'sessions.manage',
  'users.read',
  'users.list',
  'users.manage',
  'roles.manage',
  'mfa.reset',
  'tenant.read',
  'tenant.manage',
  'clients.manage',
  'audit.read',
  'consent.manage',
  'dialogs.read',
  'dialogs.write',
  'messages.send',
  'broadcast.post',
  'calls.make',
  'privacy.requests.manage',
  'privacy.export',
  'users.restrict',
  'users.erase',
  'retention.manage',
  'legal_holds.manage',
  'support_access.manage',
  'compliance.report',
] as const;

type Complete<Listed, All> = [Exclude<All, Listed>] extends [never] ? true : Exclude<All, Listed>;
/** Type-level only: each is `true` while the lists above are complete. */
export type ListsComplete = [
  Complete<(typeof BUILT_IN_ROLES)[number], BuiltInRole>,
  Complete<(typeof SCOPES)[number], Scope>,
  Complete<(typeof PERMISSIONS)[number], Permission>,
] extends [true, true, true]
  ? true
  : never;
export const LISTS_COMPLETE: ListsComplete = true;

/** `users.manage` → `users manage`, `support_agent` → `support agent`: for labels. */
export function spoken(name: string): string {
  return name.replaceAll(/[._]/g, ' ');
}
