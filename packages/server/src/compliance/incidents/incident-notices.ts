import { AppError } from '../../app-error.ts';
import { newId } from '../../ids.ts';
import type { StaffPrincipal } from '../../platform/staff-service.ts';
import type { SystemTx, TenantTx } from '../../storage/database.ts';
import type { AuditInput } from '../audit/audit-entry.ts';
import { clockOf, requireDelayReason } from './incident-clocks.ts';
import { type TenantNoticeTexts, tenantNoticeMail, userNoticeMail } from './incident-notice-text.ts';
import type { IncidentServiceDeps, NoticeOutcome } from './incident-service.ts';
import { type IncidentRow, incidentStore } from './incident-store.ts';

const actorOf = (staff: StaffPrincipal) =>
  ({ type: 'staff', id: staff.staffId, sessionId: staff.sessionId }) as const;

/** What the notices borrow from the incident service: its platform-chain record and loaders. */
export interface IncidentNoticeHelpers {
  record: (tx: SystemTx, input: AuditInput) => Promise<void>;
  load: (tx: SystemTx, id: string) => Promise<IncidentRow>;
  loadOpen: (tx: SystemTx, id: string) => Promise<IncidentRow>;
}

/**
 * The notices of an incident: tenant owners (Art. 33(3) content) and affected users (e-mail and in app), each
 * once. A notice row is claimed first (its unique key decides who sends it), the mail goes out after that
 * transaction commits, and the row is marked sent once the mail was handed over: a repeat sends nothing, and
 * an interrupted run finishes what is left on the next.
 */
export function createIncidentNotices(
  deps: IncidentServiceDeps,
  { record, load, loadOpen }: IncidentNoticeHelpers,
) {
  const { storage, audit, users, mailer, clock } = deps;

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
