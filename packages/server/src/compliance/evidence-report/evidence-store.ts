import type { SystemTx, TenantTx } from '../../storage/database.ts';

/**
 * Read-only queries the evidence report needs: counts, times and ids, never a personal field. They read
 * across domains on purpose (a report of the whole installation's state), but only read, and only the
 * columns listed here: the report never writes and never decrypts.
 */
export const evidenceStore = {
  tenant: (tx: TenantTx, tenantId: string) =>
    tx
      .selectFrom('tenants')
      .select(['id', 'name', 'status', 'key_rotation_pending'])
      .where('id', '=', tenantId)
      .executeTakeFirst(),

  /** The tenant's keys in use (not retired). */
  tenantKeys: (tx: TenantTx, tenantId: string) =>
    tx
      .selectFrom('tenant_keys')
      .select(['purpose', 'version', 'created_at'])
      .where('tenant_id', '=', tenantId)
      .where('retired_at', 'is', null)
      .execute(),

  /** Each account that is not erased: its status and whether it enrolled a second factor. */
  accounts: (tx: TenantTx, tenantId: string) =>
    tx
      .selectFrom('users')
      .select(['id', 'status', 'totp_enabled_at'])
      .where('tenant_id', '=', tenantId)
      .where('status', '!=', 'erased')
      .execute(),

  roleHolders: (tx: TenantTx, tenantId: string) =>
    tx
      .selectFrom('user_roles')
      .select(['user_id', 'role'])
      .where('tenant_id', '=', tenantId)
      .orderBy('role')
      .orderBy('user_id')
      .execute(),

  customRoles: (tx: TenantTx, tenantId: string) =>
    tx.selectFrom('roles').select(['name', 'permissions']).where('tenant_id', '=', tenantId).execute(),

  lastSweeps: (tx: TenantTx, tenantId: string) =>
    tx
      .selectFrom('retention_sweeps')
      .select(['started_at', 'finished_at'])
      .where('tenant_id', '=', tenantId)
      .orderBy('started_at', 'desc')
      .limit(1)
      .executeTakeFirst(),

  dialogOverrides: async (tx: TenantTx, tenantId: string): Promise<number> => {
    const row = await tx
      .selectFrom('retention_rules')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '!=', '')
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  },

  /** Current versions of active purposes that every account must accept. */
  requiredPurposes: (tx: TenantTx, tenantId: string) =>
    tx
      .selectFrom('consent_purposes')
      .select(['key', 'version'])
      .where('tenant_id', '=', tenantId)
      .where('active', '=', 1)
      .where('required', '=', 1)
      .where('superseded_at', 'is', null)
      .execute(),

  activePurposes: async (tx: TenantTx, tenantId: string): Promise<number> => {
    const row = await tx
      .selectFrom('consent_purposes')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('tenant_id', '=', tenantId)
      .where('active', '=', 1)
      .where('superseded_at', 'is', null)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  },

  grantedStates: (tx: TenantTx, tenantId: string) =>
    tx
      .selectFrom('consent_states')
      .select(['user_id', 'purpose_key', 'version'])
      .where('tenant_id', '=', tenantId)
      .where('granted', '=', 1)
      .execute(),

  /** Requests open now, and those closed since `closedSince`. */
  requests: (tx: TenantTx, tenantId: string, closedSince: number) =>
    tx
      .selectFrom('data_subject_requests')
      .select(['id', 'kind', 'status', 'received_at', 'deadline_at', 'extended_until', 'closed_at'])
      .where('tenant_id', '=', tenantId)
      .where((eb) => eb.or([eb('closed_at', 'is', null), eb('closed_at', '>=', closedSince)]))
      .orderBy('deadline_at')
      .execute(),

  supportPolicy: (tx: TenantTx, tenantId: string) =>
    tx
      .selectFrom('support_policies')
      .select(['allowed', 'updated_at'])
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst(),

  /** Grants asked for since `since`, or still approved. */
  supportGrants: (tx: TenantTx, tenantId: string, since: number) =>
    tx
      .selectFrom('support_grants')
      .select(['id', 'staff_id', 'scope', 'status', 'requested_at', 'decided_by', 'expires_at'])
      .where('tenant_id', '=', tenantId)
      .where((eb) => eb.or([eb('requested_at', '>=', since), eb('status', '=', 'approved')]))
      .orderBy('requested_at')
      .execute(),

  /** The ids of incidents that concern the tenant. */
  incidentIds: async (tx: TenantTx, tenantId: string): Promise<string[]> =>
    (
      await tx
        .selectFrom('incident_tenants')
        .select('incident_id')
        .where('tenant_id', '=', tenantId)
        .execute()
    ).map((row) => row.incident_id),

  incidents: (tx: SystemTx, ids: readonly string[] | 'all') => {
    let query = tx.selectFrom('incidents').selectAll();
    if (ids !== 'all') {
      if (ids.length === 0) return Promise.resolve([]);
      query = query.where('id', 'in', ids);
    }
    return query.orderBy('aware_at').execute();
  },

  masterKey: (tx: SystemTx) =>
    tx
      .selectFrom('master_key_checks')
      .select(['version', 'created_at'])
      .orderBy('version', 'desc')
      .executeTakeFirst(),

  signingKeys: (tx: SystemTx) =>
    tx.selectFrom('signing_keys').select(['id', 'created_at']).where('retired_at', 'is', null).execute(),

  /** A chain's head and its newest signed checkpoint. */
  chainState: async (tx: SystemTx | TenantTx, chainId: string) => ({
    head: await tx
      .selectFrom('audit_heads')
      .select(['seq'])
      .where('tenant_id', '=', chainId)
      .executeTakeFirst(),
    checkpoint: await tx
      .selectFrom('audit_checkpoints')
      .select(['seq', 'signed_at'])
      .where('tenant_id', '=', chainId)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst(),
  }),

  /** When the oldest entry after `afterSeq` was written (the unsigned tail's age). */
  oldestAfter: async (tx: SystemTx | TenantTx, chainId: string, afterSeq: number) =>
    (
      await tx
        .selectFrom('audit_log')
        .select('occurred_at')
        .where('tenant_id', '=', chainId)
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(1)
        .executeTakeFirst()
    )?.occurred_at,

  /** The newest recorded verification of a chain (`POST /v1/audit/verification` writes `audit.verified`). */
  lastRecordedVerification: (tx: SystemTx | TenantTx, chainId: string) =>
    tx
      .selectFrom('audit_log')
      .select(['occurred_at', 'details'])
      .where('tenant_id', '=', chainId)
      .where('action', '=', 'audit.verified')
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst(),

  scheduledTask: (tx: SystemTx, name: string) =>
    tx
      .selectFrom('scheduled_tasks')
      .select(['last_started_at', 'last_finished_at', 'last_outcome'])
      .where('name', '=', name)
      .executeTakeFirst(),

  risks: (tx: SystemTx) =>
    tx.selectFrom('risks').select(['id', 'status', 'next_review_at', 'last_reviewed_at']).execute(),
};
