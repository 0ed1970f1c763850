import type { AuditEntryView, AuditLog } from '../../compliance/audit/audit-log.ts';
import type { Storage } from '../../storage/database.ts';

/** The evidence to look for: a time window and indicators of compromise. */
export interface ScopeEvidence {
  from: number;
  to: number;
  sessionIds: readonly string[];
  userIds: readonly string[];
  ipAddresses: readonly string[];
  clientId?: string | undefined;
}

/** One tenant's share: who and what the matching audit entries touched. */
export interface TenantScope {
  tenantId: string;
  userIds: string[];
  recordKinds: string[];
  entries: number;
}

const PAGE = 500;

/** Whether one audit entry carries any indicator (an entry of an attacker's session, user, address or client). */
export function matchesEvidence(entry: AuditEntryView, evidence: ScopeEvidence): boolean {
  const { actor, target } = entry;
  if (actor.sessionId !== null && evidence.sessionIds.includes(actor.sessionId)) return true;
  if (actor.type === 'user' && actor.id !== null && evidence.userIds.includes(actor.id)) return true;
  if (target?.type === 'user' && target.id !== null && evidence.userIds.includes(target.id)) return true;
  if (entry.ip !== null && evidence.ipAddresses.includes(entry.ip)) return true;
  if (evidence.clientId !== undefined) {
    if (actor.type === 'client' && actor.id === evidence.clientId) return true;
    if (entry.details['clientId'] === evidence.clientId) return true;
  }
  return false;
}

/**
 * Scope from evidence: reads every tenant's audit chain in the window (one tenant transaction per page, the
 * ip opened by the audit log) and keeps the entries that carry an indicator. Affected users are the users who
 * acted or were acted on in them; kinds of record are their targets' types (or the action's family when an
 * entry names no target). The platform and system chains are no tenant's and are not read.
 */
export async function scopeFromEvidence(
  deps: { storage: Storage; audit: AuditLog },
  evidence: ScopeEvidence,
): Promise<TenantScope[]> {
  const { storage, audit } = deps;
  const tenantIds = await storage.withSystem(async (tx) =>
    (await tx.selectFrom('tenants').select('id').orderBy('id').execute()).map((row) => row.id),
  );
  const scopes: TenantScope[] = [];
  for (const tenantId of tenantIds) {
    const users = new Set<string>();
    const kinds = new Set<string>();
    let entries = 0;
    let cursor: string | undefined;
    do {
      const page = await storage.withTenant(tenantId, (tx) =>
        audit.query(
          tx,
          tenantId,
          { from: evidence.from, to: evidence.to },
          { cursor, limit: PAGE, order: 'asc' },
        ),
      );
      for (const entry of page.entries) {
        if (!matchesEvidence(entry, evidence)) continue;
        entries += 1;
        if (entry.actor.type === 'user' && entry.actor.id !== null) users.add(entry.actor.id);
        if (entry.target?.type === 'user' && entry.target.id !== null) users.add(entry.target.id);
        kinds.add(entry.target?.type ?? entry.action.split('.')[0] ?? entry.action);
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    if (entries > 0)
      scopes.push({ tenantId, userIds: [...users].sort(), recordKinds: [...kinds].sort(), entries });
  }
  return scopes;
}
