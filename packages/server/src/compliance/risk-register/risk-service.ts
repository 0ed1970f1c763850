import type { RiskStatus } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import type { StaffPrincipal } from '../../platform/staff-service.ts';
import type { Storage, SystemTx } from '../../storage/database.ts';
import type { ChangeRecordsTable, RisksTable } from '../../storage/tables.ts';
import { type AuditInput, PLATFORM_CHAIN_ID } from '../audit/audit-entry.ts';
import type { AuditLog } from '../audit/audit-log.ts';

/** Every risk is reviewed at least this often (ISO 27001 A.5.7 / clause 8.2: at planned intervals). */
export const RISK_REVIEW_INTERVAL_MS = 365 * 24 * 3600_000;

export type RiskRow = RisksTable;
export type ChangeRow = ChangeRecordsTable;

const actorOf = (staff: StaffPrincipal) =>
  ({ type: 'staff', id: staff.staffId, sessionId: staff.sessionId }) as const;

/**
 * The operator's risk register and change records (docs/compliance.md, "Registers"): risks with a score
 * (likelihood × impact), reviewed at least yearly; a major change is marked done only once it links a risk
 * and an assessment. Every change is recorded in the platform audit chain.
 */
export function createRiskService({
  storage,
  audit,
  clock,
}: {
  storage: Storage;
  audit: AuditLog;
  clock: Clock;
}) {
  async function record(tx: SystemTx, input: AuditInput): Promise<void> {
    await audit.append(await storage.enterTenant(tx, PLATFORM_CHAIN_ID), PLATFORM_CHAIN_ID, input);
  }

  /** A review date no later than a year after `from`. */
  function nextReview(from: number, requested: string | undefined): number {
    const latest = from + RISK_REVIEW_INTERVAL_MS;
    if (requested === undefined) return latest;
    const at = Date.parse(requested);
    if (at <= from || at > latest)
      throw new AppError(
        'validation_failed',
        'nextReviewAt must be in the coming year: risks are reviewed yearly.',
      );
    return at;
  }

  async function loadRisk(tx: SystemTx, id: string): Promise<RiskRow> {
    const row = await tx.selectFrom('risks').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new AppError('not_found', 'No such risk.');
    return row;
  }

  async function loadChange(tx: SystemTx, id: string): Promise<ChangeRow> {
    const row = await tx.selectFrom('change_records').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new AppError('not_found', 'No such change record.');
    return row;
  }

  return {
    async createRisk(
      staff: StaffPrincipal,
      input: {
        asset: string;
        threat: string;
        likelihood: number;
        impact: number;
        controls: string;
        owner: string;
        status: RiskStatus;
        nextReviewAt?: string | undefined;
      },
    ): Promise<RiskRow> {
      const now = clock.now();
      const row: RiskRow = {
        id: newId(),
        asset: input.asset,
        threat: input.threat,
        likelihood: input.likelihood,
        impact: input.impact,
        controls: input.controls,
        owner: input.owner,
        status: input.status,
        next_review_at: nextReview(now, input.nextReviewAt),
        last_reviewed_at: null,
        created_at: now,
        updated_at: now,
      };
      await storage.withSystem(async (tx) => {
        await tx.insertInto('risks').values(row).execute();
        await record(tx, {
          actor: actorOf(staff),
          action: 'risk.created',
          target: { type: 'risk', id: row.id },
          outcome: 'success',
          details: { score: row.likelihood * row.impact },
        });
      });
      return row;
    },

    async review(
      staff: StaffPrincipal,
      id: string,
      input: {
        likelihood?: number | undefined;
        impact?: number | undefined;
        controls?: string | undefined;
        status?: RiskStatus | undefined;
        nextReviewAt?: string | undefined;
      },
    ): Promise<RiskRow> {
      const now = clock.now();
      return storage.withSystem(async (tx) => {
        const before = await loadRisk(tx, id);
        const change = {
          likelihood: input.likelihood ?? before.likelihood,
          impact: input.impact ?? before.impact,
          controls: input.controls ?? before.controls,
          status: input.status ?? before.status,
          last_reviewed_at: now,
          next_review_at: nextReview(now, input.nextReviewAt),
          updated_at: now,
        };
        await tx.updateTable('risks').set(change).where('id', '=', id).execute();
        await record(tx, {
          actor: actorOf(staff),
          action: 'risk.reviewed',
          target: { type: 'risk', id },
          outcome: 'success',
          details: { score: change.likelihood * change.impact, status: change.status },
        });
        return { ...before, ...change };
      });
    },

    async listRisks(): Promise<RiskRow[]> {
      return storage.withSystem((tx) =>
        tx.selectFrom('risks').selectAll().orderBy('next_review_at').orderBy('id').execute(),
      );
    },

    /** Risks whose review date has passed: shown in the register and fired as the `risk_review_overdue` alert. */
    async overdueReviews(now: number): Promise<RiskRow[]> {
      return storage.withSystem((tx) =>
        tx
          .selectFrom('risks')
          .selectAll()
          .where('status', '!=', 'closed')
          .where('next_review_at', '<', now)
          .orderBy('next_review_at')
          .execute(),
      );
    },

    async createChange(
      staff: StaffPrincipal,
      input: { title: string; description: string; major: boolean },
    ): Promise<ChangeRow> {
      const row: ChangeRow = {
        id: newId(),
        title: input.title,
        description: input.description,
        major: input.major ? 1 : 0,
        risk_id: null,
        assessment: null,
        status: 'planned',
        created_at: clock.now(),
        done_at: null,
      };
      await storage.withSystem(async (tx) => {
        await tx.insertInto('change_records').values(row).execute();
        await record(tx, {
          actor: actorOf(staff),
          action: 'change.created',
          target: { type: 'change', id: row.id },
          outcome: 'success',
          details: { major: input.major },
        });
      });
      return row;
    },

    async assess(
      staff: StaffPrincipal,
      id: string,
      input: { riskId: string; assessment: string },
    ): Promise<ChangeRow> {
      return storage.withSystem(async (tx) => {
        const change = await loadChange(tx, id);
        if (change.status === 'done') throw new AppError('conflict', 'The change is done.');
        await loadRisk(tx, input.riskId);
        await tx
          .updateTable('change_records')
          .set({ risk_id: input.riskId, assessment: input.assessment })
          .where('id', '=', id)
          .execute();
        await record(tx, {
          actor: actorOf(staff),
          action: 'change.assessed',
          target: { type: 'change', id },
          outcome: 'success',
          details: { riskId: input.riskId },
        });
        return { ...change, risk_id: input.riskId, assessment: input.assessment };
      });
    },

    /** Marks a change done; a major one only with a linked risk assessment (`risk_assessment_required`). */
    async complete(staff: StaffPrincipal, id: string): Promise<ChangeRow> {
      return storage.withSystem(async (tx) => {
        const change = await loadChange(tx, id);
        if (change.status === 'done') throw new AppError('conflict', 'The change is done.');
        if (change.major === 1 && (change.risk_id === null || change.assessment === null))
          throw new AppError('risk_assessment_required');
        const now = clock.now();
        await tx
          .updateTable('change_records')
          .set({ status: 'done', done_at: now })
          .where('id', '=', id)
          .execute();
        await record(tx, {
          actor: actorOf(staff),
          action: 'change.done',
          target: { type: 'change', id },
          outcome: 'success',
        });
        return { ...change, status: 'done' as const, done_at: now };
      });
    },

    async listChanges(): Promise<ChangeRow[]> {
      return storage.withSystem((tx) =>
        tx.selectFrom('change_records').selectAll().orderBy('created_at', 'desc').orderBy('id').execute(),
      );
    },
  };
}

export type RiskService = ReturnType<typeof createRiskService>;
