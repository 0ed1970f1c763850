import { AppError } from '../../app-error.ts';
import type { IncidentServiceDeps } from './incident-service.ts';
import { incidentStore } from './incident-store.ts';

/** Incidents as tenants, their users and the public see them: each tenant its own share only. */
export function createIncidentTenantView({
  storage,
  audit,
  clock,
}: Pick<IncidentServiceDeps, 'storage' | 'audit' | 'clock'>) {
  return {
    /** The incidents that concern one tenant, with its own share only. */
    async forTenant(tenantId: string) {
      return storage.withTenant(tenantId, (tx) => incidentStore.forTenant(tx, tenantId));
    },

    /** A tenant asks for the RCA (recorded in its chain and visible to the security officer). */
    async requestRca(
      tenant: { tenantId: string; userId: string | null; sessionId: string },
      id: string,
    ): Promise<void> {
      await storage.withTenant(tenant.tenantId, async (tx) => {
        if (!(await incidentStore.tenantShare(tx, tenant.tenantId, id)))
          throw new AppError('not_found', 'No such incident.');
        await incidentStore.requestRca(tx, tenant.tenantId, id, clock.now());
        await audit.append(tx, tenant.tenantId, {
          actor: { type: 'user', id: tenant.userId ?? undefined, sessionId: tenant.sessionId },
          action: 'incident.rca_requested',
          target: { type: 'incident', id },
          outcome: 'success',
        });
      });
    },

    /** The RCA, for an affected tenant once attached; anything else is not found (no other tenant's incident). */
    async rcaFor(tenant: { tenantId: string; userId: string | null; sessionId: string }, id: string) {
      return storage.withTenant(tenant.tenantId, async (tx) => {
        const share = await incidentStore.tenantShare(tx, tenant.tenantId, id);
        const row = share ? await incidentStore.byId(tx, id) : undefined;
        if (!row?.rca_text || row.rca_attached_at === null)
          throw new AppError('not_found', 'No RCA is available.');
        await audit.append(tx, tenant.tenantId, {
          actor: { type: 'user', id: tenant.userId ?? undefined, sessionId: tenant.sessionId },
          action: 'incident.rca_downloaded',
          target: { type: 'incident', id },
          outcome: 'success',
        });
        return { incidentId: id, text: row.rca_text, attachedAt: row.rca_attached_at };
      });
    },

    async userNotices(tenantId: string, userId: string) {
      return storage.withTenant(tenantId, (tx) => incidentStore.inAppNotices(tx, tenantId, userId));
    },

    /** General incidents for the public feed: no tenant, no user, no personal data. */
    async publicFeed(limit = 50) {
      return storage.withSystem((tx) => incidentStore.general(tx, limit));
    },
  };
}
