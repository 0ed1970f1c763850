import type { SystemTx, TenantTx } from '../../storage/database.ts';
import type {
  IncidentActionsTable,
  IncidentNoticesTable,
  IncidentsTable,
  IncidentTenantsTable,
} from '../../storage/tables.ts';

export type IncidentRow = IncidentsTable;
export type IncidentActionRow = IncidentActionsTable;
export type IncidentTenantRow = IncidentTenantsTable;
export type IncidentNoticeRow = IncidentNoticesTable;

/**
 * Kysely queries for incidents. Platform rows (`incidents`, `incident_actions`) in system transactions;
 * tenant rows (`incident_tenants`, `incident_notices`) in system transactions for the security officer and
 * in the tenant's own transaction for the tenant (row-level security keeps it to its own rows).
 */
export const incidentStore = {
  async insert(tx: SystemTx, row: IncidentRow): Promise<void> {
    await tx.insertInto('incidents').values(row).execute();
  },

  async byId(tx: SystemTx | TenantTx, id: string): Promise<IncidentRow | undefined> {
    return tx.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
  },

  async list(tx: SystemTx): Promise<IncidentRow[]> {
    return tx.selectFrom('incidents').selectAll().orderBy('aware_at', 'desc').orderBy('id').execute();
  },

  async open(tx: SystemTx): Promise<IncidentRow[]> {
    return tx
      .selectFrom('incidents')
      .selectAll()
      .where('status', '!=', 'closed')
      .orderBy('aware_at')
      .execute();
  },

  async general(tx: SystemTx, limit: number): Promise<IncidentRow[]> {
    return tx
      .selectFrom('incidents')
      .selectAll()
      .where('general', '=', 1)
      .orderBy('aware_at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
  },

  async update(tx: SystemTx, id: string, change: Partial<IncidentRow>): Promise<void> {
    await tx.updateTable('incidents').set(change).where('id', '=', id).execute();
  },

  async actions(tx: SystemTx, incidentId: string): Promise<IncidentActionRow[]> {
    return tx
      .selectFrom('incident_actions')
      .selectAll()
      .where('incident_id', '=', incidentId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  },

  async insertAction(tx: SystemTx, row: IncidentActionRow): Promise<void> {
    await tx.insertInto('incident_actions').values(row).execute();
  },

  async completeAction(
    tx: SystemTx,
    incidentId: string,
    id: string,
    by: string,
    at: number,
  ): Promise<boolean> {
    const result = await tx
      .updateTable('incident_actions')
      .set({ done_at: at, done_by: by })
      .where('id', '=', id)
      .where('incident_id', '=', incidentId)
      .where('done_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  },

  async affected(tx: SystemTx, incidentId: string): Promise<IncidentTenantRow[]> {
    return tx
      .selectFrom('incident_tenants')
      .selectAll()
      .where('incident_id', '=', incidentId)
      .orderBy('tenant_id')
      .execute();
  },

  /** Replaces the scope of an incident (a new scoping supersedes the last), keeping notice and RCA times. */
  async replaceScope(tx: SystemTx, incidentId: string, rows: IncidentTenantRow[]): Promise<void> {
    const before = new Map((await this.affected(tx, incidentId)).map((row) => [row.tenant_id, row]));
    await tx.deleteFrom('incident_tenants').where('incident_id', '=', incidentId).execute();
    for (const row of rows) {
      const kept = before.get(row.tenant_id);
      await tx
        .insertInto('incident_tenants')
        .values({
          ...row,
          notified_at: kept?.notified_at ?? null,
          rca_requested_at: kept?.rca_requested_at ?? null,
        })
        .execute();
    }
  },

  async markTenantNotified(tx: SystemTx, incidentId: string, tenantId: string, at: number): Promise<void> {
    await tx
      .updateTable('incident_tenants')
      .set({ notified_at: at })
      .where('incident_id', '=', incidentId)
      .where('tenant_id', '=', tenantId)
      .where('notified_at', 'is', null)
      .execute();
  },

  async forTenant(tx: TenantTx, tenantId: string) {
    return tx
      .selectFrom('incident_tenants')
      .innerJoin('incidents', 'incidents.id', 'incident_tenants.incident_id')
      .select([
        'incidents.id as id',
        'incidents.title as title',
        'incidents.severity as severity',
        'incidents.status as status',
        'incidents.aware_at as awareAt',
        'incidents.data_categories as dataCategories',
        'incidents.rca_attached_at as rcaAttachedAt',
        'incident_tenants.user_ids as userIds',
        'incident_tenants.record_kinds as recordKinds',
        'incident_tenants.notified_at as notifiedAt',
        'incident_tenants.rca_requested_at as rcaRequestedAt',
      ])
      .where('incident_tenants.tenant_id', '=', tenantId)
      .orderBy('incidents.aware_at', 'desc')
      .execute();
  },

  async tenantShare(
    tx: TenantTx,
    tenantId: string,
    incidentId: string,
  ): Promise<IncidentTenantRow | undefined> {
    return tx
      .selectFrom('incident_tenants')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('incident_id', '=', incidentId)
      .executeTakeFirst();
  },

  async requestRca(tx: TenantTx, tenantId: string, incidentId: string, at: number): Promise<void> {
    await tx
      .updateTable('incident_tenants')
      .set({ rca_requested_at: at })
      .where('tenant_id', '=', tenantId)
      .where('incident_id', '=', incidentId)
      .where('rca_requested_at', 'is', null)
      .execute();
  },

  /** Records a notice unless it exists; true when this call created it (the unique key decides). */
  async claimNotice(tx: TenantTx, row: IncidentNoticeRow): Promise<boolean> {
    const result = await tx
      .insertInto('incident_notices')
      .values(row)
      .onConflict((oc) => oc.columns(['tenant_id', 'incident_id', 'user_id', 'channel']).doNothing())
      .executeTakeFirst();
    return (result.numInsertedOrUpdatedRows ?? 0n) === 1n;
  },

  async unsentNotices(tx: TenantTx, tenantId: string, incidentId: string): Promise<IncidentNoticeRow[]> {
    return tx
      .selectFrom('incident_notices')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('incident_id', '=', incidentId)
      .where('sent_at', 'is', null)
      .orderBy('id')
      .execute();
  },

  async markNoticeSent(tx: TenantTx, id: string, at: number): Promise<void> {
    await tx.updateTable('incident_notices').set({ sent_at: at }).where('id', '=', id).execute();
  },

  async inAppNotices(tx: TenantTx, tenantId: string, userId: string) {
    return tx
      .selectFrom('incident_notices')
      .innerJoin('incidents', 'incidents.id', 'incident_notices.incident_id')
      .select([
        'incident_notices.id as id',
        'incident_notices.incident_id as incidentId',
        'incidents.user_message as message',
        'incident_notices.created_at as createdAt',
      ])
      .where('incident_notices.tenant_id', '=', tenantId)
      .where('incident_notices.user_id', '=', userId)
      .where('incident_notices.channel', '=', 'in_app')
      .orderBy('incident_notices.created_at', 'desc')
      .execute();
  },
};
