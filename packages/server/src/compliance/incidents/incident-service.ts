import type { IncidentSeverity } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import type { Mailer } from '../../notifications/mailer.ts';
import type { StaffPrincipal } from '../../platform/staff-service.ts';
import type { Storage, SystemTx, TenantTx } from '../../storage/database.ts';
import { type AuditInput, PLATFORM_CHAIN_ID } from '../audit/audit-entry.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import {
  clockOf,
  clocksOf,
  DEFAULT_CONTROLLER_TARGET_HOURS,
  reminderStage,
  requireDelayReason,
} from './incident-clocks.ts';
import { type TenantNoticeTexts, tenantNoticeMail, userNoticeMail } from './incident-notice-text.ts';
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
  const { storage, audit, users, mailer, clock } = deps;
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

  async function tenantNames(tenantIds: string[]): Promise<Map<string, string>> {
    if (tenantIds.length === 0) return new Map();
    const rows = await storage.withSystem((tx) =>
      tx.selectFrom('tenants').select(['id', 'name']).where('id', 'in', tenantIds).execute(),
    );
    return new Map(rows.map((row) => [row.id, row.name]));
  }

  /** Sends the unsent notices of one tenant (after their rows committed), marking each sent once handed over. */
  async function deliver(
    tenantId: string,
    incident: IncidentRow,
    channel: 'owner_email' | 'user_email',
    mail: { subject: string; text: string },
  ): Promise<number> {
    const pending = await storage.withTenant(tenantId, (tx) =>
      incidentStore.unsentNotices(tx, tenantId, incident.id),
    );
    let sent = 0;
    for (const notice of pending) {
      if (notice.channel !== channel) continue;
      const { email } = await users.getUser(tenantId, notice.user_id);
      if (email) await mailer.send({ tenantId, to: email, ...mail, kind: 'incident_notice' });
      await storage.withTenant(tenantId, (tx) => incidentStore.markNoticeSent(tx, notice.id, clock.now()));
      sent += 1;
    }
    return sent;
  }

  return {
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

    /**
     * Tells the owners of every affected tenant, by e-mail, with the Art. 33(3) content pre-filled; each owner
     * once per incident (a second run sends nothing). Meets the controller clock; past it, a delay reason is
     * required.
     */
    async notifyTenants(staff: StaffPrincipal, id: string, texts: TenantNoticeTexts): Promise<NoticeOutcome> {
      const now = clock.now();
      const { incident, affected } = await storage.withSystem(async (tx) => {
        const row = await loadOpen(tx, id);
        const shares = await incidentStore.affected(tx, id);
        if (row.scope_from === null) throw new AppError('incident_unscoped');
        if (row.controllers_notified_at === null)
          requireDelayReason(clockOf(row, 'controller', now), now, texts.delayReason);
        return { incident: row, affected: shares };
      });
      const names = await tenantNames(affected.map((share) => share.tenant_id));
      let created = 0;
      let existing = 0;
      for (const share of affected) {
        await storage.withTenant(share.tenant_id, async (tx) => {
          const owners = await ownersOf(tx, share.tenant_id);
          let fresh = 0;
          for (const userId of owners) {
            const claimed = await incidentStore.claimNotice(tx, {
              id: newId(),
              tenant_id: share.tenant_id,
              incident_id: id,
              user_id: userId,
              channel: 'owner_email',
              created_at: now,
              sent_at: null,
            });
            if (claimed) fresh += 1;
            else existing += 1;
          }
          created += fresh;
          if (fresh > 0)
            await audit.append(tx, share.tenant_id, {
              actor: actorOf(staff),
              action: 'incident.tenant_notified',
              target: { type: 'incident', id },
              outcome: 'success',
              details: { owners: fresh, affectedUsers: (JSON.parse(share.user_ids) as string[]).length },
            });
        });
      }
      for (const share of affected) {
        const mail = tenantNoticeMail(incident, share, names.get(share.tenant_id) ?? share.tenant_id, texts);
        await deliver(share.tenant_id, incident, 'owner_email', mail);
      }
      await storage.withSystem(async (tx) => {
        for (const share of affected) await incidentStore.markTenantNotified(tx, id, share.tenant_id, now);
        const row = await load(tx, id);
        if (row.controllers_notified_at === null)
          await incidentStore.update(tx, id, {
            controllers_notified_at: now,
            controller_delay_reason: texts.delayReason ?? null,
            tenant_notice: JSON.stringify({
              likelyConsequences: texts.likelyConsequences,
              measures: texts.measures,
              contact: texts.contact,
            }),
            updated_at: now,
          });
        await record(tx, {
          actor: actorOf(staff),
          action: 'incident.tenants_notified',
          target: { type: 'incident', id },
          outcome: 'success',
          details: {
            tenants: affected.length,
            sent: created,
            alreadySent: existing,
            late: texts.delayReason !== undefined,
          },
        });
      });
      return { sent: created, alreadySent: existing };
    },

    /**
     * Tells every affected user by e-mail and in the app, each once per incident and channel. Meets the HIPAA
     * clock; past it, a delay reason is required.
     */
    async notifyUsers(
      staff: StaffPrincipal,
      id: string,
      input: { message: string; delayReason?: string | undefined },
    ): Promise<NoticeOutcome> {
      const now = clock.now();
      const { affected } = await storage.withSystem(async (tx) => {
        const row = await loadOpen(tx, id);
        if (row.scope_from === null) throw new AppError('incident_unscoped');
        if (row.users_notified_at === null) {
          requireDelayReason(clockOf(row, 'hipaa', now), now, input.delayReason);
          await incidentStore.update(tx, id, {
            user_message: input.message,
            users_notified_at: now,
            users_delay_reason: input.delayReason ?? null,
            updated_at: now,
          });
        }
        return { affected: await incidentStore.affected(tx, id) };
      });
      const incident = await storage.withSystem((tx) => load(tx, id));
      const names = await tenantNames(affected.map((share) => share.tenant_id));
      let created = 0;
      let existing = 0;
      for (const share of affected) {
        const userIds = JSON.parse(share.user_ids) as string[];
        await storage.withTenant(share.tenant_id, async (tx) => {
          let fresh = 0;
          for (const userId of userIds) {
            for (const channel of ['user_email', 'in_app'] as const) {
              const claimed = await incidentStore.claimNotice(tx, {
                id: newId(),
                tenant_id: share.tenant_id,
                incident_id: id,
                user_id: userId,
                channel,
                created_at: now,
                sent_at: channel === 'in_app' ? now : null,
              });
              if (claimed) fresh += 1;
              else existing += 1;
            }
          }
          created += fresh;
          if (fresh > 0)
            await audit.append(tx, share.tenant_id, {
              actor: actorOf(staff),
              action: 'incident.users_notified',
              target: { type: 'incident', id },
              outcome: 'success',
              details: { notices: fresh },
            });
        });
        const mail = userNoticeMail(incident, names.get(share.tenant_id) ?? share.tenant_id);
        await deliver(share.tenant_id, incident, 'user_email', mail);
      }
      await storage.withSystem((tx) =>
        record(tx, {
          actor: actorOf(staff),
          action: 'incident.users_notified',
          target: { type: 'incident', id },
          outcome: 'success',
          details: { sent: created, alreadySent: existing, late: input.delayReason !== undefined },
        }),
      );
      return { sent: created, alreadySent: existing };
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

    /**
     * The reminder pass (scheduled task `incident.clock_reminders`): for every open incident, each clock not met
     * gets a `due_soon` reminder in its last quarter and an `overdue` one past it, each once (kept in the row),
     * recorded in the platform chain where security officers and the alerting read them.
     */
    async remind(): Promise<{ incidentId: string; clock: string; stage: string }[]> {
      const now = clock.now();
      return storage.withSystem(async (tx) => {
        const sent: { incidentId: string; clock: string; stage: string }[] = [];
        for (const row of await incidentStore.open(tx)) {
          const done = new Set(JSON.parse(row.reminders) as string[]);
          const due = clocksOf(row, now).flatMap((state) => {
            const stage = reminderStage(state, row.aware_at, now);
            return stage && !done.has(`${state.clock}:${stage}`) ? [{ clock: state.clock, stage }] : [];
          });
          if (due.length === 0) continue;
          for (const reminder of due) {
            done.add(`${reminder.clock}:${reminder.stage}`);
            sent.push({ incidentId: row.id, ...reminder });
          }
          await incidentStore.update(tx, row.id, { reminders: JSON.stringify([...done].sort()) });
        }
        if (sent.length > 0)
          await record(tx, {
            actor: { type: 'system' },
            action: 'incident.clock_reminders',
            outcome: 'success',
            details: { reminders: sent },
          });
        return sent;
      });
    },
  };
}

async function ownersOf(tx: TenantTx, tenantId: string): Promise<string[]> {
  const rows = await tx
    .selectFrom('user_roles')
    .select('user_id')
    .where('tenant_id', '=', tenantId)
    .where('role', '=', 'owner')
    .orderBy('user_id')
    .execute();
  return rows.map((row) => row.user_id);
}

export type IncidentService = ReturnType<typeof createIncidentService>;
