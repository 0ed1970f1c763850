import type { IncidentSeverity } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import type { Mailer } from '../../notifications/mailer.ts';
import type { StaffPrincipal } from '../../platform/staff-service.ts';
import type { Storage, SystemTx } from '../../storage/database.ts';
import { type AuditInput, PLATFORM_CHAIN_ID } from '../audit/audit-entry.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import {
  clockOf,
  clockReminderNotice,
  clocksOf,
  DEFAULT_CONTROLLER_TARGET_HOURS,
  reminderStage,
  requireDelayReason,
} from './incident-clocks.ts';
import { createIncidentNotices } from './incident-notices.ts';
import { createIncidentTenantView } from './incident-tenant-view.ts';
import { type ScopeEvidence, scopeFromEvidence } from './incident-scope.ts';
import { type IncidentRow, incidentStore } from './incident-store.ts';

export interface IncidentServiceDeps {
  storage: Storage;
  audit: AuditLog;
  /** E-mail addresses of users (opened with their key); null once erased. */
  users: { getUser(tenantId: string, userId: string): Promise<{ email: string | null }> };
  mailer: Mailer;
  clock: Clock;
  /** Default hours to notify affected tenants (PARLEY_INCIDENT_CONTROLLER_HOURS). */
  controllerTargetHours?: number | undefined;
  /** E-mails the security officers each clock reminder (once: the reminder is kept in the row first). */
  officers?: { notify(notice: { subject: string; text: string }): Promise<number> } | undefined;
}

export interface IncidentOpenInput {
  title: string;
  description: string;
  severity: IncidentSeverity;
  awareAt: string;
  dataCategories: string[];
  general: boolean;
  publicSummary?: string | undefined;
  controllerTargetHours?: number | undefined;
}

/** The outcome of a notice run: notices handed over now, and notices that had already gone out. */
export interface NoticeOutcome {
  sent: number;
  alreadySent: number;
}

const actorOf = (staff: StaffPrincipal) =>
  ({ type: 'staff', id: staff.staffId, sessionId: staff.sessionId }) as const;

/**
 * Incidents (docs/incident-response.md): a security officer opens one, scopes it from the audit log, tells
 * affected tenants and users once each against the clocks, tracks corrective actions and the RCA, and
 * closes it only when every action is done. Every step is in the platform chain; what a tenant can see
 * happen (its notice, its RCA request) is in that tenant's chain too.
 */
export function createIncidentService(deps: IncidentServiceDeps) {
  const { storage, audit, clock } = deps;
  const defaultTarget = deps.controllerTargetHours ?? DEFAULT_CONTROLLER_TARGET_HOURS;

  /** Appends to the platform chain: last in `tx` (it binds the transaction to the platform chain). */
  async function record(tx: SystemTx, input: AuditInput): Promise<void> {
    await audit.append(await storage.enterTenant(tx, PLATFORM_CHAIN_ID), PLATFORM_CHAIN_ID, input);
  }

  async function load(tx: SystemTx, id: string): Promise<IncidentRow> {
    const row = await incidentStore.byId(tx, id);
    if (!row) throw new AppError('not_found', 'No such incident.');
    return row;
  }

  async function loadOpen(tx: SystemTx, id: string): Promise<IncidentRow> {
    const row = await load(tx, id);
    if (row.status === 'closed') throw new AppError('incident_closed');
    return row;
  }

  return {
    ...createIncidentNotices(deps, { record, load, loadOpen }),
    ...createIncidentTenantView(deps),

    async open(staff: StaffPrincipal, input: IncidentOpenInput): Promise<IncidentRow> {
      const now = clock.now();
      const awareAt = Date.parse(input.awareAt);
      if (awareAt > now) throw new AppError('validation_failed', 'awareAt is in the future.');
      if (input.general && !input.publicSummary)
        throw new AppError('validation_failed', 'A general incident needs a publicSummary for the feed.');
      const row: IncidentRow = {
        id: newId(),
        title: input.title,
        description: input.description,
        severity: input.severity,
        status: 'investigating',
        aware_at: awareAt,
        data_categories: JSON.stringify(input.dataCategories),
        general: input.general ? 1 : 0,
        public_summary: input.publicSummary ?? null,
        controller_target_hours: input.controllerTargetHours ?? defaultTarget,
        scope_from: null,
        scope_to: null,
        controllers_notified_at: null,
        controller_delay_reason: null,
        tenant_notice: null,
        authority_notified_at: null,
        authority_reference: null,
        authority_delay_reason: null,
        users_notified_at: null,
        users_delay_reason: null,
        user_message: null,
        reminders: '[]',
        rca_text: null,
        rca_attached_at: null,
        opened_by: staff.staffId,
        created_at: now,
        updated_at: now,
        closed_at: null,
      };
      await storage.withSystem(async (tx) => {
        await incidentStore.insert(tx, row);
        await record(tx, {
          actor: actorOf(staff),
          action: 'incident.opened',
          target: { type: 'incident', id: row.id },
          outcome: 'success',
          details: { severity: row.severity, general: input.general },
        });
      });
      return row;
    },

    async list() {
      return storage.withSystem(async (tx) => {
        const rows = await incidentStore.list(tx);
        return Promise.all(
          rows.map(async (row) => ({ row, actions: await incidentStore.actions(tx, row.id) })),
        );
      });
    },

    async get(id: string) {
      return storage.withSystem(async (tx) => {
        const row = await load(tx, id);
        return {
          row,
          actions: await incidentStore.actions(tx, id),
          affected: await incidentStore.affected(tx, id),
        };
      });
    },

    async update(
      staff: StaffPrincipal,
      id: string,
      change: {
        status?: 'investigating' | 'contained' | 'resolved' | undefined;
        severity?: IncidentSeverity | undefined;
        description?: string | undefined;
        publicSummary?: string | undefined;
      },
    ): Promise<void> {
      await storage.withSystem(async (tx) => {
        await loadOpen(tx, id);
        await incidentStore.update(tx, id, {
          ...(change.status ? { status: change.status } : {}),
          ...(change.severity ? { severity: change.severity } : {}),
          ...(change.description ? { description: change.description } : {}),
          ...(change.publicSummary ? { public_summary: change.publicSummary } : {}),
          updated_at: clock.now(),
        });
        await record(tx, {
          actor: actorOf(staff),
          action: 'incident.updated',
          target: { type: 'incident', id },
          outcome: 'success',
          details: { fields: Object.keys(change).sort() },
        });
      });
    },

    /** Scopes the incident from evidence; a new scoping replaces the last (notice times are kept). */
    async scope(staff: StaffPrincipal, id: string, evidence: ScopeEvidence) {
      if (evidence.to <= evidence.from)
        throw new AppError('validation_failed', 'The evidence window must end after it starts.');
      await storage.withSystem((tx) => loadOpen(tx, id));
      const scopes = await scopeFromEvidence({ storage, audit }, evidence);
      return storage.withSystem(async (tx) => {
        await loadOpen(tx, id);
        await incidentStore.replaceScope(
          tx,
          id,
          scopes.map((scope) => ({
            incident_id: id,
            tenant_id: scope.tenantId,
            user_ids: JSON.stringify(scope.userIds),
            record_kinds: JSON.stringify(scope.recordKinds),
            entries: scope.entries,
            notified_at: null,
            rca_requested_at: null,
          })),
        );
        await incidentStore.update(tx, id, {
          scope_from: evidence.from,
          scope_to: evidence.to,
          updated_at: clock.now(),
        });
        const affected = await incidentStore.affected(tx, id);
        await record(tx, {
          actor: actorOf(staff),
          action: 'incident.scoped',
          target: { type: 'incident', id },
          outcome: 'success',
          details: {
            tenants: affected.length,
            users: scopes.reduce((sum, scope) => sum + scope.userIds.length, 0),
            indicators: {
              sessions: evidence.sessionIds.length,
              users: evidence.userIds.length,
              ipAddresses: evidence.ipAddresses.length,
              client: evidence.clientId !== undefined,
            },
          },
        });
        return affected;
      });
    },

    /** Records the notification of the supervisory authority (Art. 33): meets the 72-hour clock. */
    async recordAuthority(
      staff: StaffPrincipal,
      id: string,
      input: { notifiedAt: string; reference?: string | undefined; delayReason?: string | undefined },
    ): Promise<void> {
      const at = Date.parse(input.notifiedAt);
      const now = clock.now();
      if (at > now) throw new AppError('validation_failed', 'notifiedAt is in the future.');
      await storage.withSystem(async (tx) => {
        const row = await loadOpen(tx, id);
        if (at < row.aware_at) throw new AppError('validation_failed', 'notifiedAt is before awareAt.');
        if (row.authority_notified_at !== null)
          throw new AppError('conflict', 'The authority notification is recorded.');
        requireDelayReason(clockOf(row, 'gdpr_authority', now), at, input.delayReason);
        await incidentStore.update(tx, id, {
          authority_notified_at: at,
          authority_reference: input.reference ?? null,
          authority_delay_reason: input.delayReason ?? null,
          updated_at: now,
        });
        await record(tx, {
          actor: actorOf(staff),
          action: 'incident.authority_notified',
          target: { type: 'incident', id },
          outcome: 'success',
          details: { late: input.delayReason !== undefined },
        });
      });
    },

    async addAction(
      staff: StaffPrincipal,
      id: string,
      input: { description: string; dueAt?: string | undefined },
    ) {
      const now = clock.now();
      const actionId = newId();
      await storage.withSystem(async (tx) => {
        await loadOpen(tx, id);
        await incidentStore.insertAction(tx, {
          id: actionId,
          incident_id: id,
          description: input.description,
          due_at: input.dueAt === undefined ? null : Date.parse(input.dueAt),
          done_at: null,
          done_by: null,
          created_at: now,
        });
        await record(tx, {
          actor: actorOf(staff),
          action: 'incident.action_added',
          target: { type: 'incident', id },
          outcome: 'success',
          details: { actionId },
        });
      });
      return actionId;
    },

    async completeAction(staff: StaffPrincipal, id: string, actionId: string): Promise<void> {
      await storage.withSystem(async (tx) => {
        await loadOpen(tx, id);
        if (!(await incidentStore.completeAction(tx, id, actionId, staff.staffId, clock.now()))) {
          const known = (await incidentStore.actions(tx, id)).some((action) => action.id === actionId);
          throw known
            ? new AppError('conflict', 'The action is done already.')
            : new AppError('not_found', 'No such action.');
        }
        await record(tx, {
          actor: actorOf(staff),
          action: 'incident.action_done',
          target: { type: 'incident', id },
          outcome: 'success',
          details: { actionId },
        });
      });
    },

    async attachRca(staff: StaffPrincipal, id: string, text: string): Promise<void> {
      await storage.withSystem(async (tx) => {
        await loadOpen(tx, id);
        const now = clock.now();
        await incidentStore.update(tx, id, { rca_text: text, rca_attached_at: now, updated_at: now });
        await record(tx, {
          actor: actorOf(staff),
          action: 'incident.rca_attached',
          target: { type: 'incident', id },
          outcome: 'success',
        });
      });
    },

    /** Closes the incident: only with an RCA attached and every corrective action done. */
    async close(staff: StaffPrincipal, id: string): Promise<void> {
      await storage.withSystem(async (tx) => {
        const row = await loadOpen(tx, id);
        if (row.rca_attached_at === null) throw new AppError('incident_rca_missing');
        const open = (await incidentStore.actions(tx, id)).filter((action) => action.done_at === null);
        if (open.length > 0)
          throw new AppError('incident_actions_open', `${open.length} corrective action(s) are not done.`);
        const now = clock.now();
        await incidentStore.update(tx, id, { status: 'closed', closed_at: now, updated_at: now });
        await record(tx, {
          actor: actorOf(staff),
          action: 'incident.closed',
          target: { type: 'incident', id },
          outcome: 'success',
        });
      });
    },

    /**
     * The reminder pass (scheduled task `incident.clock_reminders`): for every open incident, each clock not met
     * gets a `due_soon` reminder in its last quarter and an `overdue` one past it, each once (kept in the row),
     * recorded in the platform chain and e-mailed to the security officers (ids, severity, deadline only).
     */
    async remind(): Promise<{ incidentId: string; clock: string; stage: string }[]> {
      const now = clock.now();
      const notices: { subject: string; text: string }[] = [];
      const sent = await storage.withSystem(async (tx) => {
        const due: { incidentId: string; clock: string; stage: string }[] = [];
        for (const row of await incidentStore.open(tx)) {
          const done = new Set(JSON.parse(row.reminders) as string[]);
          let changed = false;
          for (const state of clocksOf(row, now)) {
            const stage = reminderStage(state, row.aware_at, now);
            if (!stage || done.has(`${state.clock}:${stage}`)) continue;
            done.add(`${state.clock}:${stage}`);
            changed = true;
            due.push({ incidentId: row.id, clock: state.clock, stage });
            notices.push(clockReminderNotice(row, state, stage));
          }
          if (changed)
            await incidentStore.update(tx, row.id, { reminders: JSON.stringify([...done].sort()) });
        }
        if (due.length > 0)
          await record(tx, {
            actor: { type: 'system' },
            action: 'incident.clock_reminders',
            outcome: 'success',
            details: { reminders: due },
          });
        return due;
      });
      // After the commit that marked them sent: a reminder is mailed at most once, never per tick.
      for (const notice of notices) await deps.officers?.notify(notice);
      return sent;
    },
  };
}

export type IncidentService = ReturnType<typeof createIncidentService>;
