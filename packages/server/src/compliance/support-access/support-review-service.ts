import { createHash } from 'node:crypto';
import type { SupportScope } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import { staffEmailAt } from '../../platform/staff-service.ts';
import { newId } from '../../ids.ts';
import type { Storage, SystemTx } from '../../storage/database.ts';
import type { SupportReviewsTable } from '../../storage/tables.ts';
import { canonicalJson, PLATFORM_CHAIN_ID } from '../audit/audit-entry.ts';
import type { AuditEntryView, AuditLog } from '../audit/audit-log.ts';
import { presentSupportAccess } from './support-grant-presenter.ts';
import { dialogIdsOf, grantReasonAt, SUPPORT_ACCESSED_ACTION } from './support-grant-service.ts';
import type { SupportGrantRow } from './support-grant-store.ts';

export type SupportReviewRow = SupportReviewsTable;

/** The security officer signing a review (platform/staff-service.ts's principal, as far as this needs). */
export interface ReviewSigner {
  staffId: string;
  sessionId: string;
  role: string;
}

/** A review window: `since` inclusive, `until` exclusive, ms since the epoch. */
export interface ReviewWindow {
  since: number;
  until: number;
}

const DAY_MS = 24 * 3600_000;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** When a grant stopped mattering: revoked, refused, expired; a pending one is still open. */
function endOf(row: SupportGrantRow): number {
  if (row.revoked_at !== null) return row.revoked_at;
  if (row.status === 'refused') return row.decided_at ?? row.requested_at;
  if (row.status === 'approved') return row.expires_at ?? Number.POSITIVE_INFINITY;
  return Number.POSITIVE_INFINITY;
}

export type SupportReviewReport = Awaited<ReturnType<SupportReviewService['report']>>;

/**
 * Periodic review of support access (docs/security.md, "Periodic review"): a report of every grant whose life
 * overlaps a window — who asked, who decided, scope, duration, and every request made under it, read from the
 * tenants' audit chains — that a security officer signs by its hash; the review is overdue when no signed
 * review covers up to within `periodDays` of now.
 */
export function createSupportReviewService({
  storage,
  audit,
  fieldCipher,
  clock,
  periodDays,
}: {
  storage: Storage;
  audit: AuditLog;
  /** Opens the grants' sealed reasons (tenant key) and the staff's sealed addresses (platform key). */
  fieldCipher: Pick<FieldCipher, 'open' | 'openForPlatform'>;
  clock: Clock;
  periodDays: number;
}) {
  /** Every `support.accessed` entry of one grant within the window, oldest first. */
  async function accessesOf(row: SupportGrantRow, window: ReviewWindow): Promise<AuditEntryView[]> {
    const filter = {
      action: SUPPORT_ACCESSED_ACTION,
      targetType: 'support_grant',
      targetId: row.id,
      from: window.since,
      to: window.until,
    };
    const entries: AuditEntryView[] = [];
    let cursor: string | undefined;
    do {
      const page = await storage.withTenant(row.tenant_id, (tx) =>
        audit.query(tx, row.tenant_id, filter, { cursor, limit: 500, order: 'asc' }),
      );
      entries.push(...page.entries);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return entries;
  }

  async function report(window: ReviewWindow) {
    if (!(window.since < window.until))
      throw new AppError('validation_failed', 'The review window must end after it starts.');
    const { rows, emails } = await storage.withSystem(async (tx) => ({
      rows: await tx
        .selectFrom('support_grants')
        .selectAll()
        .where('requested_at', '<', window.until)
        .orderBy('requested_at')
        .orderBy('id')
        .execute(),
      emails: new Map<string, string>(),
    }));
    await storage.withSystem(async (tx) => {
      for (const staff of await tx.selectFrom('staff_accounts').select(['id', 'email']).execute())
        emails.set(staff.id, await fieldCipher.openForPlatform(tx, staffEmailAt(staff.id), staff.email));
    });
    const grants = [];
    for (const row of rows.filter((grant) => endOf(grant) >= window.since)) {
      const accesses = (await accessesOf(row, window)).map(presentSupportAccess);
      const reason = await storage.withTenant(row.tenant_id, (tx) =>
        fieldCipher.open(tx, grantReasonAt(row), row.reason),
      );
      grants.push({
        grantId: row.id,
        tenantId: row.tenant_id,
        requestedBy: { staffId: row.staff_id, email: emails.get(row.staff_id) ?? null },
        reason,
        scope: row.scope as SupportScope,
        dialogIds: row.dialog_ids === null ? null : dialogIdsOf(row),
        durationHours: row.duration_hours,
        status: row.status,
        requestedAt: new Date(row.requested_at).toISOString(),
        decidedBy: row.decided_by,
        decision:
          row.decided_at === null
            ? null
            : row.status === 'refused'
              ? ('refused' as const)
              : ('approved' as const),
        decidedAt: iso(row.decided_at),
        expiresAt: iso(row.expires_at),
        revokedBy: row.revoked_by,
        revokedAt: iso(row.revoked_at),
        accesses,
      });
    }
    const body = {
      kind: 'parley.support_review_report' as const,
      since: new Date(window.since).toISOString(),
      until: new Date(window.until).toISOString(),
      totals: {
        grants: grants.length,
        accesses: grants.reduce((sum, grant) => sum + grant.accesses.length, 0),
        deniedAccesses: grants.reduce(
          (sum, grant) => sum + grant.accesses.filter((access) => access.outcome !== 'success').length,
          0,
        ),
      },
      grants,
    };
    return { ...body, reportHash: createHash('sha256').update(canonicalJson(body)).digest('hex') };
  }

  async function latest(tx: SystemTx): Promise<SupportReviewRow | undefined> {
    return tx
      .selectFrom('support_reviews')
      .selectAll()
      .orderBy('window_to', 'desc')
      .orderBy('signed_at', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  return {
    report,

    /**
     * Signs the review of a window: refused unless the caller is a security officer, the window has ended,
     * and the hash is that of the report of this window now (`support_review_hash_mismatch`): an officer signs
     * what they read, not what they were shown some other time. Recorded in the platform audit chain.
     */
    async sign(
      signer: ReviewSigner,
      input: ReviewWindow & { reportHash: string },
    ): Promise<SupportReviewRow> {
      if (signer.role !== 'security_officer') throw new AppError('forbidden');
      const now = clock.now();
      if (input.until > now)
        throw new AppError(
          'validation_failed',
          'A review covers a window that has ended: until is in the future.',
        );
      const current = await report(input);
      if (current.reportHash !== input.reportHash) throw new AppError('support_review_hash_mismatch');
      const row: SupportReviewRow = {
        id: newId(),
        window_from: input.since,
        window_to: input.until,
        report_hash: current.reportHash,
        grants: current.totals.grants,
        accesses: current.totals.accesses,
        signed_by: signer.staffId,
        signed_at: now,
      };
      await storage.withSystem(async (tx) => {
        await tx.insertInto('support_reviews').values(row).execute();
        await audit.append(await storage.enterTenant(tx, PLATFORM_CHAIN_ID), PLATFORM_CHAIN_ID, {
          actor: { type: 'staff', id: signer.staffId, sessionId: signer.sessionId },
          action: 'support.review_signed',
          target: { type: 'support_review', id: row.id },
          outcome: 'success',
          details: {
            since: current.since,
            until: current.until,
            reportHash: row.report_hash,
            grants: row.grants,
            accesses: row.accesses,
          },
        });
      });
      return row;
    },

    /** Records in the platform chain that a staff member read the report of a window (grant metadata). */
    async recordRead(reader: ReviewSigner, window: ReviewWindow, reportHash: string): Promise<void> {
      await storage.withSystem(async (tx) => {
        await audit.append(await storage.enterTenant(tx, PLATFORM_CHAIN_ID), PLATFORM_CHAIN_ID, {
          actor: { type: 'staff', id: reader.staffId, sessionId: reader.sessionId },
          action: 'support.review_report_read',
          outcome: 'success',
          details: { since: iso(window.since), until: iso(window.until), reportHash },
        });
      });
    },

    async list(): Promise<SupportReviewRow[]> {
      return storage.withSystem((tx) =>
        tx.selectFrom('support_reviews').selectAll().orderBy('window_to', 'desc').orderBy('id').execute(),
      );
    },

    /**
     * Overdue when the latest signed review's window ends more than `periodDays` ago. Before the first review
     * the clock starts at the first staff account: with no staff there is no support access to review.
     */
    async status(now: number) {
      const { last, firstStaff } = await storage.withSystem(async (tx) => ({
        last: await latest(tx),
        firstStaff: await tx
          .selectFrom('staff_accounts')
          .select((eb) => eb.fn.min('created_at').as('first'))
          .executeTakeFirst(),
      }));
      // PostgreSQL's bigint arrives as a number too (dialects/postgres.ts parses INT8).
      const first = firstStaff?.first ?? null;
      const baseline = last?.window_to ?? first;
      const dueAt = baseline === null ? null : baseline + periodDays * DAY_MS;
      return {
        periodDays,
        overdue: dueAt !== null && now > dueAt,
        coveredUntil: iso(last?.window_to ?? null),
        lastSignedAt: last?.signed_at ?? null,
        dueAt,
      };
    },
  };
}

export type SupportReviewService = ReturnType<typeof createSupportReviewService>;
export type SupportReviewState = Awaited<ReturnType<SupportReviewService['status']>>;
