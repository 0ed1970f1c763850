import type { LegalScopeSpec } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import { newId } from '../../ids.ts';
import type { Mailer } from '../../notifications/mailer.ts';
import type { StaffPrincipal } from '../../platform/staff-service.ts';
import type { Storage, SystemTx } from '../../storage/database.ts';
import type { LegalRequestsTable } from '../../storage/tables.ts';
import { type AuditInput, PLATFORM_CHAIN_ID } from '../audit/audit-entry.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { approvedScopeOf, readScope, writeScope } from './legal-scope.ts';

export type LegalRequestRow = LegalRequestsTable;

const actorOf = (staff: StaffPrincipal) =>
  ({ type: 'staff', id: staff.staffId, sessionId: staff.sessionId }) as const;

/** Where a request's sealed review notes live (bound into their envelope). */
export const reviewNotesAt = (requestId: string) =>
  ({ table: 'legal_requests', column: 'review_notes', rowId: requestId }) as const;

/** `2026-H1` (January to June, UTC) or `2026-H2`. */
export const halfYearOf = (ms: number): string => {
  const date = new Date(ms);
  return `${date.getUTCFullYear()}-H${date.getUTCMonth() < 6 ? 1 : 2}`;
};

/** `due_soon` in the last quarter between receipt and deadline, `overdue` past the deadline. */
function deadlineStage(row: LegalRequestRow, now: number): 'due_soon' | 'overdue' | null {
  if (now > row.deadline_at) return 'overdue';
  if (now >= row.deadline_at - (row.deadline_at - row.received_at) / 4) return 'due_soon';
  return null;
}

/** The officers' e-mail for a deadline: the request by id, its status and deadline; no authority, tenant or person. */
function deadlineNotice(row: LegalRequestRow, stage: 'due_soon' | 'overdue') {
  const deadline = new Date(row.deadline_at).toISOString();
  return {
    subject: `Law-enforcement request ${row.id}: deadline ${stage === 'overdue' ? 'passed' : 'near'}`,
    text: [
      `The deadline of law-enforcement request ${row.id} (status ${row.status}) ${
        stage === 'overdue' ? 'passed' : 'falls'
      } at ${deadline}.`,
      row.status === 'received'
        ? 'Review it: POST /v1/platform/legal-requests/{id}/review.'.replace('{id}', row.id)
        : 'Answer it: build the disclosure package and record the disclosure, or record why not.',
      '',
      'Details: GET /v1/platform/legal-requests (security officers). This reminder is sent once.',
    ].join('\n'),
  };
}

/**
 * Law-enforcement requests (docs/compliance.md, "Law-enforcement requests"): registered as received, reviewed
 * (valid, binding; approved, narrowed or objected to), the tenant told before anything is disclosed unless a
 * non-disclosure order is in force (then when it ends), the disclosed package's hash recorded, and the counts
 * published per half year. Security officers only; every step in the platform chain, the tenant notice in the
 * tenant's chain too.
 */
export function createLegalRequestService(deps: {
  storage: Storage;
  audit: AuditLog;
  users: { getUser(tenantId: string, userId: string): Promise<{ email: string | null }> };
  mailer: Mailer;
  /** Seals and opens the review notes under the platform key (a request belongs to no tenant). */
  fieldCipher: Pick<FieldCipher, 'sealForPlatform' | 'openForPlatform'>;
  clock: Clock;
  /** E-mails the security officers each deadline reminder (once: the reminder is kept in the row first). */
  officers?: { notify(notice: { subject: string; text: string }): Promise<number> } | undefined;
}) {
  const { storage, audit, users, mailer, fieldCipher, clock } = deps;

  /** The row as the officers' API answers it: the sealed review notes opened. */
  async function withNotes(tx: SystemTx, row: LegalRequestRow): Promise<LegalRequestRow> {
    if (row.review_notes === null) return row;
    return {
      ...row,
      review_notes: await fieldCipher.openForPlatform(tx, reviewNotesAt(row.id), row.review_notes),
    };
  }

  async function record(tx: SystemTx, input: AuditInput): Promise<void> {
    await audit.append(await storage.enterTenant(tx, PLATFORM_CHAIN_ID), PLATFORM_CHAIN_ID, input);
  }

  async function load(tx: SystemTx, id: string): Promise<LegalRequestRow> {
    const row = await tx.selectFrom('legal_requests').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new AppError('not_found', 'No such request.');
    return row;
  }

  /** E-mails the tenant's owners once (the notice time is set first, in the same transaction as its audit). */
  async function notify(id: string, actor: AuditInput['actor']): Promise<LegalRequestRow> {
    const now = clock.now();
    const row = await storage.withSystem(async (tx) => {
      const found = await load(tx, id);
      if (found.tenant_notified_at !== null) return undefined;
      if (found.nondisclosure_until !== null && found.nondisclosure_until > now)
        throw new AppError('nondisclosure_in_force');
      await tx
        .updateTable('legal_requests')
        .set({ tenant_notified_at: now, updated_at: now })
        .where('id', '=', id)
        .execute();
      const tenantTx = await storage.enterTenant(tx, found.target_tenant_id);
      const owners = await tenantTx
        .selectFrom('user_roles')
        .select('user_id')
        .where('tenant_id', '=', found.target_tenant_id)
        .where('role', '=', 'owner')
        .execute();
      await audit.append(tenantTx, found.target_tenant_id, {
        actor,
        action: 'legal_request.tenant_notified',
        target: { type: 'legal_request', id },
        outcome: 'success',
      });
      return { ...found, tenant_notified_at: now, owners: owners.map((owner) => owner.user_id) };
    });
    if (!row) return storage.withSystem((tx) => load(tx, id));
    for (const userId of row.owners) {
      const { email } = await users.getUser(row.target_tenant_id, userId);
      if (!email) continue;
      await mailer.send({
        tenantId: row.target_tenant_id,
        to: email,
        kind: 'legal_request_notice',
        subject: `A request from ${row.authority} concerns your data`,
        text: [
          `We received a request from ${row.authority} for data of your organisation.`,
          `Legal basis: ${row.legal_basis}`,
          `Order reference: ${row.order_reference}`,
          `What we may disclose after review: ${row.approved_scope ?? 'under review'}`,
          `Received: ${new Date(row.received_at).toISOString()}; deadline: ${new Date(row.deadline_at).toISOString()}`,
          '',
          'You may want to seek legal advice or contest the order. Details: GET /v1/legal-requests.',
        ].join('\n'),
      });
    }
    return row;
  }

  const list = (): Promise<LegalRequestRow[]> =>
    storage.withSystem((tx) =>
      tx.selectFrom('legal_requests').selectAll().orderBy('received_at', 'desc').orderBy('id').execute(),
    );

  return {
    /** Every request, newest first, with the review notes opened (the security officers' register). */
    list: () =>
      storage.withSystem(async (tx) => {
        const rows = [];
        for (const row of await tx
          .selectFrom('legal_requests')
          .selectAll()
          .orderBy('received_at', 'desc')
          .orderBy('id')
          .execute())
          rows.push(await withNotes(tx, row));
        return rows;
      }),

    async register(
      staff: StaffPrincipal,
      input: {
        authority: string;
        legalBasis: string;
        orderReference: string;
        scope: string;
        scopeSpec?: LegalScopeSpec | undefined;
        tenantId: string;
        receivedAt: string;
        deadlineAt: string;
      },
    ): Promise<LegalRequestRow> {
      const now = clock.now();
      const receivedAt = Date.parse(input.receivedAt);
      const deadlineAt = Date.parse(input.deadlineAt);
      if (receivedAt > now) throw new AppError('validation_failed', 'receivedAt is in the future.');
      if (deadlineAt <= receivedAt)
        throw new AppError('validation_failed', 'deadlineAt must follow receivedAt.');
      const row: LegalRequestRow = {
        id: newId(),
        authority: input.authority,
        legal_basis: input.legalBasis,
        order_reference: input.orderReference,
        scope: input.scope,
        target_tenant_id: input.tenantId,
        received_at: receivedAt,
        deadline_at: deadlineAt,
        status: 'received',
        valid: null,
        binding: null,
        review_notes: null,
        approved_scope: null,
        objected: 0,
        narrowed: 0,
        nondisclosure_until: null,
        tenant_notified_at: null,
        disclosed_at: null,
        package_sha256: null,
        created_by: staff.staffId,
        created_at: now,
        updated_at: now,
        scope_spec: input.scopeSpec === undefined ? null : writeScope(input.scopeSpec),
        approved_scope_spec: null,
        reminders: '[]',
      };
      await storage.withSystem(async (tx) => {
        const tenant = await tx
          .selectFrom('tenants')
          .select('id')
          .where('id', '=', input.tenantId)
          .executeTakeFirst();
        if (!tenant) throw new AppError('not_found', 'No such tenant.');
        await tx.insertInto('legal_requests').values(row).execute();
        await record(tx, {
          actor: actorOf(staff),
          action: 'legal_request.registered',
          target: { type: 'legal_request', id: row.id },
          outcome: 'success',
          details: { tenantId: input.tenantId },
        });
      });
      return row;
    },

    async review(
      staff: StaffPrincipal,
      id: string,
      input: {
        valid: boolean;
        binding: boolean;
        decision: 'approve' | 'narrow' | 'object';
        approvedScope?: string | undefined;
        approvedScopeSpec?: LegalScopeSpec | undefined;
        notes: string;
        nonDisclosureUntil?: string | undefined;
      },
    ): Promise<LegalRequestRow> {
      if (input.decision === 'narrow' && !input.approvedScope)
        throw new AppError('validation_failed', 'Narrowing needs the approvedScope.');
      if (input.decision !== 'object' && !(input.valid && input.binding))
        throw new AppError(
          'validation_failed',
          'Only a valid and binding order can be approved or narrowed.',
        );
      const now = clock.now();
      const nondisclosure =
        input.nonDisclosureUntil === undefined ? null : Date.parse(input.nonDisclosureUntil);
      if (nondisclosure !== null && nondisclosure <= now)
        throw new AppError('validation_failed', 'A non-disclosure order must end in the future.');
      return storage.withSystem(async (tx) => {
        const row = await load(tx, id);
        if (row.status === 'disclosed') throw new AppError('conflict', 'The request was answered.');
        const approvedSpec = approvedScopeOf(
          input.decision,
          readScope(row.scope_spec),
          input.approvedScopeSpec,
        );
        const change = {
          valid: input.valid ? 1 : 0,
          binding: input.binding ? 1 : 0,
          review_notes: await fieldCipher.sealForPlatform(tx, reviewNotesAt(id), input.notes),
          status: input.decision === 'object' ? ('rejected' as const) : ('approved' as const),
          approved_scope: input.decision === 'object' ? null : (input.approvedScope ?? row.scope),
          objected: input.decision === 'object' ? 1 : row.objected,
          narrowed: input.decision === 'narrow' ? 1 : row.narrowed,
          nondisclosure_until: nondisclosure,
          approved_scope_spec: approvedSpec === null ? null : writeScope(approvedSpec),
          updated_at: now,
        };
        await tx.updateTable('legal_requests').set(change).where('id', '=', id).execute();
        await record(tx, {
          actor: actorOf(staff),
          action: 'legal_request.reviewed',
          target: { type: 'legal_request', id },
          outcome: 'success',
          details: {
            decision: input.decision,
            valid: input.valid,
            binding: input.binding,
            nondisclosure: nondisclosure !== null,
          },
        });
        return { ...row, ...change, review_notes: input.notes };
      });
    },

    /** Tells the tenant now; refused while a non-disclosure order is in force. Once only. */
    async notifyTenant(staff: StaffPrincipal, id: string): Promise<LegalRequestRow> {
      const row = await notify(id, actorOf(staff));
      return storage.withSystem((tx) => withNotes(tx, row));
    },

    /**
     * Records the disclosure by the package's hash: only of an approved request, only once the tenant was
     * told or while a non-disclosure order is in force, and only of the package the export engine built for
     * it (`legal_package_not_ready` before one is ready, `legal_package_mismatch` for any other hash).
     */
    async disclose(staff: StaffPrincipal, id: string, packageSha256: string): Promise<LegalRequestRow> {
      const now = clock.now();
      return storage.withSystem(async (tx) => {
        const row = await load(tx, id);
        if (row.status !== 'approved') throw new AppError('legal_request_not_approved');
        const gagged = row.nondisclosure_until !== null && row.nondisclosure_until > now;
        if (row.tenant_notified_at === null && !gagged) throw new AppError('tenant_notice_required');
        if (row.package_sha256 === null) throw new AppError('legal_package_not_ready');
        if (row.package_sha256 !== packageSha256) throw new AppError('legal_package_mismatch');
        const change = {
          status: 'disclosed' as const,
          disclosed_at: now,
          package_sha256: packageSha256,
          updated_at: now,
        };
        await tx.updateTable('legal_requests').set(change).where('id', '=', id).execute();
        await record(tx, {
          actor: actorOf(staff),
          action: 'legal_request.disclosed',
          target: { type: 'legal_request', id },
          outcome: 'success',
          details: { packageSha256, beforeNotice: row.tenant_notified_at === null },
        });
        return withNotes(tx, { ...row, ...change });
      });
    },

    /** The scheduled pass: tells tenants whose non-disclosure order has ended (`legal_requests.notices`). */
    async noticesDue(): Promise<string[]> {
      const now = clock.now();
      const due = await storage.withSystem((tx) =>
        tx
          .selectFrom('legal_requests')
          .select('id')
          .where('tenant_notified_at', 'is', null)
          .where('nondisclosure_until', 'is not', null)
          .where('nondisclosure_until', '<=', now)
          .execute(),
      );
      for (const { id } of due) await notify(id, { type: 'system' });
      return due.map((row) => row.id);
    },

    /**
     * The scheduled pass's deadline reminders: a request not yet answered (received or approved) gets a
     * `due_soon` reminder in the last quarter between receipt and deadline and an `overdue` one past it, each
     * once (kept in the row), in the platform chain and e-mailed to the security officers (id, status and
     * deadline only).
     */
    async remindDeadlines(): Promise<{ requestId: string; stage: 'due_soon' | 'overdue' }[]> {
      const now = clock.now();
      const due = await storage.withSystem(async (tx) => {
        const open = await tx
          .selectFrom('legal_requests')
          .selectAll()
          .where('status', 'in', ['received', 'approved'])
          .orderBy('deadline_at')
          .execute();
        const found: { row: LegalRequestRow; stage: 'due_soon' | 'overdue' }[] = [];
        for (const row of open) {
          const stage = deadlineStage(row, now);
          const done = new Set(JSON.parse(row.reminders ?? '[]') as string[]);
          if (stage === null || done.has(stage)) continue;
          done.add(stage);
          // Compare-and-set: a pass running beside this one (a manual run) cannot send it twice.
          const claimed = await tx
            .updateTable('legal_requests')
            .set({ reminders: JSON.stringify([...done].sort()) })
            .where('id', '=', row.id)
            .where('reminders', '=', row.reminders ?? '[]')
            .executeTakeFirst();
          if (claimed.numUpdatedRows === 1n) found.push({ row, stage });
        }
        if (found.length > 0)
          await record(tx, {
            actor: { type: 'system' },
            action: 'legal_request.deadline_reminders',
            outcome: 'success',
            details: { reminders: found.map(({ row, stage }) => ({ requestId: row.id, stage })) },
          });
        return found;
      });
      // After the commit that marked them sent: a reminder is mailed at most once, never per tick.
      for (const { row, stage } of due) await deps.officers?.notify(deadlineNotice(row, stage));
      return due.map(({ row, stage }) => ({ requestId: row.id, stage }));
    },

    /** The requests about one tenant it has been told of. */
    async forTenant(tenantId: string): Promise<LegalRequestRow[]> {
      return storage.withSystem((tx) =>
        tx
          .selectFrom('legal_requests')
          .selectAll()
          .where('target_tenant_id', '=', tenantId)
          .where('tenant_notified_at', 'is not', null)
          .orderBy('received_at', 'desc')
          .execute(),
      );
    },

    /** Counts per half year of receipt: received, objected, narrowed, disclosed, notified. No names. */
    async transparencyReport() {
      const rows = await list();
      const periods = new Map<
        string,
        { received: number; objected: number; narrowed: number; disclosed: number; notified: number }
      >();
      for (const row of rows) {
        const period = halfYearOf(row.received_at);
        const counts = periods.get(period) ?? {
          received: 0,
          objected: 0,
          narrowed: 0,
          disclosed: 0,
          notified: 0,
        };
        counts.received += 1;
        counts.objected += row.objected;
        counts.narrowed += row.narrowed;
        if (row.disclosed_at !== null) counts.disclosed += 1;
        if (row.tenant_notified_at !== null) counts.notified += 1;
        periods.set(period, counts);
      }
      return [...periods.entries()]
        .sort(([a], [b]) => b.localeCompare(a))
        .map(([period, counts]) => ({ period, ...counts }));
    },
  };
}

export type LegalRequestService = ReturnType<typeof createLegalRequestService>;
