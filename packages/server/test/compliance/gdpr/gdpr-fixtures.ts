import type { TestServer } from '../../support/start-server.ts';

export const DAY_MS = 86_400_000;

/** The audit entries of a tenant with `action` starting with `prefix`, oldest first. */
export function auditEntries(server: TestServer, tenantId: string, prefix: string) {
  return server.app.storage.withTenant(tenantId, (tx) =>
    tx
      .selectFrom('audit_log')
      .select(['action', 'actor_id', 'target_type', 'target_id', 'outcome', 'details'])
      .where('tenant_id', '=', tenantId)
      .where('action', 'like', `${prefix}%`)
      .orderBy('seq')
      .execute(),
  );
}

/** A stored data subject request as it is at rest. */
export function storedRequest(server: TestServer, tenantId: string, requestId: string) {
  return server.app.storage.withTenant(tenantId, (tx) =>
    tx
      .selectFrom('data_subject_requests')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', requestId)
      .executeTakeFirstOrThrow(),
  );
}

/** The requests of a tenant about `subjectId`, newest first. */
export function storedRequestsOf(server: TestServer, tenantId: string, subjectId: string) {
  return server.app.storage.withTenant(tenantId, (tx) =>
    tx
      .selectFrom('data_subject_requests')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('subject_id', '=', subjectId)
      .orderBy('created_at', 'desc')
      .execute(),
  );
}
