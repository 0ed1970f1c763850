import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import { type AuditInput, SYSTEM_TENANT_ID } from '../compliance/audit/audit-entry.ts';
import type { AuditLog } from '../compliance/audit/audit-log.ts';
import type { RequestContext } from '../compliance/audit/request-context.ts';
import type { ExportService } from '../compliance/gdpr/export-service.ts';
import { newId } from '../ids.ts';
import type { Storage, SystemTx } from '../storage/database.ts';
import type { TenantClosureStage } from '../storage/tables.ts';
import { type TenantClosureRow, tenantCloseStore } from './tenant-close-store.ts';
import {
  parseProgress,
  type SignedTenantDeletionCertificate,
  type TenantDeletionCertificate,
  type TenantPurge,
  type TenantPurgeProgress,
} from './tenant-purge.ts';

const DAY_MS = 24 * 3600 * 1000;
/** The export window unless the closer chose another: 30 days (docs/privacy.md, "Tenant termination"). */
export const DEFAULT_EXPORT_WINDOW_DAYS = 30;
/** How long a node trusts the stage it read for a tenant; a change on this node is seen at once. */
const STAGE_CACHE_MS = 2000;

/** Where a tenant is in its life. `closed` is the read-only export window. */
export type TenantStage = 'active' | 'closed' | 'purging' | 'purged';

/** Who closes or reopens: the tenant's owner (a user with `tenant.manage`), or the operator from the CLI. */
export type TenantCloseActor =
  { type: 'operator' } | { type: 'user'; userId: string; sessionId: string | null; context: RequestContext };

export interface TenantClosure {
  tenantId: string;
  stage: TenantStage;
  closureId: string | null;
  closedAt: string | null;
  closedBy: string | null;
  /** The end of the export window: the purge runs from then on. */
  exportUntil: string | null;
  purgeStartedAt: string | null;
  purgedAt: string | null;
  progress: TenantPurgeProgress | null;
  certificate: SignedTenantDeletionCertificate | null;
}

export interface TenantCloseServiceDeps {
  storage: Storage;
  clock: Clock;
  audit: Pick<AuditLog, 'append'>;
  purge: TenantPurge;
  /** For the tenant-wide export: one archive per account, built by the data export engine. */
  exports?: Pick<ExportService, 'request'>;
}

const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
const closedByOf = (actor: TenantCloseActor) =>
  actor.type === 'operator' ? 'operator' : `user:${actor.userId}`;
const auditActor = (actor: TenantCloseActor): AuditInput['actor'] =>
  actor.type === 'operator'
    ? { type: 'staff' }
    : { type: 'user', id: actor.userId, sessionId: actor.sessionId ?? undefined };
const contextOf = (actor: TenantCloseActor): RequestContext => (actor.type === 'user' ? actor.context : {});

async function publicKeyFor(tx: SystemTx, row: TenantClosureRow) {
  return row.key_id === null ? '' : tenantCloseStore.publicKey(tx, row.key_id);
}

async function present(tx: SystemTx, row: TenantClosureRow): Promise<TenantClosure> {
  const stage: TenantStage = row.stage === 'reopened' ? 'active' : row.stage;
  return {
    tenantId: row.tenant_id,
    stage,
    closureId: row.id,
    closedAt: iso(row.closed_at),
    closedBy: row.closed_by,
    exportUntil: iso(row.purge_after),
    purgeStartedAt: iso(row.purge_started_at),
    purgedAt: iso(row.purged_at),
    progress: parseProgress(row.progress),
    certificate:
      row.certificate === null || row.signature === null || row.key_id === null
        ? null
        : {
            certificate: JSON.parse(row.certificate) as TenantDeletionCertificate,
            signature: row.signature,
            keyId: row.key_id,
            publicKey: await publicKeyFor(tx, row),
          },
  };
}

const active = (tenantId: string): TenantClosure => ({
  tenantId,
  stage: 'active',
  closureId: null,
  closedAt: null,
  closedBy: null,
  exportUntil: null,
  purgeStartedAt: null,
  purgedAt: null,
  progress: null,
  certificate: null,
});

/**
 * Tenant termination (docs/privacy.md, "Tenant termination"): close (read-only, with an export window), reopen
 * during the window, list by stage, and the scheduled purge (tenant-purge.ts) once the window ended. Every
 * step is audited on the tenant's chain while it exists and on the system chain always.
 */
export function createTenantCloseService(deps: TenantCloseServiceDeps) {
  const { storage, clock, audit } = deps;
  const lock = storage.dialect === 'postgres';
  /**
   * Each tenant's stage, or the one lookup of it in flight: callers arriving while it runs share it, so they
   * resume in the order they asked (a socket's sends check it before the commit batcher and must reach the
   * batcher in the order they arrived; separate lookups could answer in any order on a pool).
   */
  const stages = new Map<string, { stage: Promise<TenantStage>; until: number }>();

  /** On the tenant's chain with the request's context, and on the system chain (which seals no context). */
  async function auditBoth(
    tx: SystemTx,
    tenantId: string,
    input: AuditInput,
    context: RequestContext,
  ): Promise<void> {
    await audit.append(await storage.enterTenant(tx, tenantId), tenantId, { ...input, ...context });
    await audit.append(await storage.enterTenant(tx, SYSTEM_TENANT_ID), SYSTEM_TENANT_ID, input);
  }

  const service = {
    /** Closes the tenant: read-only at once; purged after `exportWindowDays` unless reopened before. */
    async close(
      tenantId: string,
      actor: TenantCloseActor,
      options: { exportWindowDays?: number } = {},
    ): Promise<TenantClosure> {
      const days = options.exportWindowDays ?? DEFAULT_EXPORT_WINDOW_DAYS;
      if (!Number.isInteger(days) || days < 0 || days > 3650)
        throw new AppError('validation_failed', 'exportWindowDays must be a whole number from 0 to 3650.');
      const result = await storage.withSystem(async (tx) => {
        if (!(await tenantCloseStore.tenantExists(tx, tenantId))) {
          const gone = await tenantCloseStore.current(tx, tenantId, false);
          throw new AppError(gone?.stage === 'purged' ? 'tenant_purged' : 'not_found');
        }
        const current = await tenantCloseStore.current(tx, tenantId, lock);
        if (current)
          throw new AppError(current.stage === 'closed' ? 'tenant_closed' : 'tenant_purge_started');
        const now = clock.now();
        const row: TenantClosureRow = {
          id: newId(),
          tenant_id: tenantId,
          stage: 'closed',
          closed_at: now,
          closed_by: closedByOf(actor),
          purge_after: now + days * DAY_MS,
          reopened_at: null,
          reopened_by: null,
          purge_started_at: null,
          purged_at: null,
          progress: JSON.stringify({ keysDestroyed: 0, rowsDeleted: {} } satisfies TenantPurgeProgress),
          certificate: null,
          signature: null,
          key_id: null,
          updated_at: now,
        };
        await tenantCloseStore.insert(tx, row);
        await tenantCloseStore.setTenantStatus(tx, tenantId, 'closed');
        await auditBoth(
          tx,
          tenantId,
          {
            actor: auditActor(actor),
            action: 'tenant.closed',
            target: { type: 'tenant', id: tenantId },
            outcome: 'success',
            details: { closureId: row.id, exportUntil: new Date(row.purge_after).toISOString() },
          },
          contextOf(actor),
        );
        return present(tx, row);
      });
      stages.delete(tenantId);
      return result;
    },

    /** Reopens a closed tenant during its export window; refused once its purge started. */
    async reopen(tenantId: string, actor: TenantCloseActor): Promise<TenantClosure> {
      const result = await storage.withSystem(async (tx) => {
        const row = await tenantCloseStore.current(tx, tenantId, lock);
        if (!row) {
          if (!(await tenantCloseStore.tenantExists(tx, tenantId))) throw new AppError('not_found');
          throw new AppError('tenant_not_closed');
        }
        if (row.stage !== 'closed') throw new AppError('tenant_purge_started');
        const now = clock.now();
        await tenantCloseStore.update(tx, row.id, {
          stage: 'reopened',
          reopened_at: now,
          reopened_by: closedByOf(actor),
          updated_at: now,
        });
        await tenantCloseStore.setTenantStatus(tx, tenantId, 'active');
        await auditBoth(
          tx,
          tenantId,
          {
            actor: auditActor(actor),
            action: 'tenant.reopened',
            target: { type: 'tenant', id: tenantId },
            outcome: 'success',
            details: { closureId: row.id },
          },
          contextOf(actor),
        );
        return active(tenantId);
      });
      stages.delete(tenantId);
      return result;
    },

    /** The tenant's stage, its export window and, once purged, its certificate. */
    async status(tenantId: string): Promise<TenantClosure> {
      return storage.withSystem(async (tx) => {
        const row = await tenantCloseStore.current(tx, tenantId, false);
        if (row) return present(tx, row);
        if (!(await tenantCloseStore.tenantExists(tx, tenantId))) throw new AppError('not_found');
        return active(tenantId);
      });
    },

    /** Every tenant at the given stages (all stages when none given), for the operator. */
    async list(wanted: readonly TenantStage[] = ['active', 'closed', 'purging', 'purged']) {
      return storage.withSystem(async (tx) => {
        const closureStages = wanted.flatMap((stage): TenantClosureStage[] =>
          stage === 'active' ? [] : [stage],
        );
        const closures = closureStages.length === 0 ? [] : await tenantCloseStore.list(tx, closureStages);
        const listed: TenantClosure[] = [];
        if (wanted.includes('active')) {
          const tenants = await tx
            .selectFrom('tenants')
            .select(['id', 'status'])
            .orderBy('created_at')
            .execute();
          for (const tenant of tenants) if (tenant.status === 'active') listed.push(active(tenant.id));
        }
        for (const row of closures) listed.push(await present(tx, row));
        return listed;
      });
    },

    /**
     * The tenant-wide export of the export window: one archive per account that is not erased, each built by
     * the data export engine (compliance/gdpr) with the owner as requester, downloadable with
     * `GET /v1/exports/{exportId}/archive`. An account whose export is being built already keeps that one.
     */
    async exportTenant(tenantId: string, actor: Extract<TenantCloseActor, { type: 'user' }>) {
      const exports = deps.exports;
      if (!exports) throw new AppError('service_unavailable');
      const userIds = await storage.withTenant(tenantId, (tx) =>
        tenantCloseStore.exportableUsers(tx, tenantId),
      );
      const started: { userId: string; exportId: string }[] = [];
      const skipped: { userId: string; reason: string }[] = [];
      for (const userId of userIds) {
        try {
          const created = await exports.request(
            tenantId,
            userId,
            { userId: actor.userId, sessionId: actor.sessionId, context: actor.context },
            'admin',
            { tenantExport: true },
          );
          started.push({ userId, exportId: created.id });
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          skipped.push({ userId, reason: error.code });
        }
      }
      return { exports: started, skipped };
    },

    /**
     * The stage a request of the tenant meets: read once per tenant and node every two seconds at most (a
     * close or reopen on this node is seen at once; on another node within that time).
     */
    stageOf(tenantId: string): Promise<TenantStage> {
      const cached = stages.get(tenantId);
      const now = Date.now();
      if (cached && cached.until > now) return cached.stage;
      const stage = storage
        .withTenant(tenantId, (tx) => tenantCloseStore.tenantStatus(tx, tenantId))
        .then((status): TenantStage =>
          status === undefined ? 'purged' : status === 'closed' || status === 'purging' ? status : 'active',
        );
      if (stages.size > 10_000) stages.clear();
      const entry = { stage, until: now + STAGE_CACHE_MS };
      stages.set(tenantId, entry);
      // A failed lookup is not kept: the next caller asks again.
      stage.catch(() => {
        if (stages.get(tenantId) === entry) stages.delete(tenantId);
      });
      return stage;
    },

    /** Throws unless the tenant takes writes: `tenant_closed` in the export window, `tenant_purged` after. */
    async assertWritable(tenantId: string): Promise<void> {
      const stage = await service.stageOf(tenantId);
      if (stage === 'closed') throw new AppError('tenant_closed');
      if (stage !== 'active') throw new AppError('tenant_purged');
    },

    /** Runs every due purge (the scheduled task); a held tenant is skipped and stays closed. */
    async purgeDue(signal?: AbortSignal): Promise<{ purged: string[]; held: string[] }> {
      const due = await storage.withSystem((tx) => tenantCloseStore.due(tx, clock.now()));
      const purged: string[] = [];
      const held: string[] = [];
      for (const row of due) {
        signal?.throwIfAborted();
        try {
          await deps.purge.purge(row.tenant_id, signal);
          purged.push(row.tenant_id);
        } catch (error) {
          if (error instanceof AppError && error.code === 'tenant_on_hold') held.push(row.tenant_id);
          else throw error;
        }
        stages.delete(row.tenant_id);
      }
      return { purged, held };
    },
  };
  return service;
}

export type TenantCloseService = ReturnType<typeof createTenantCloseService>;
