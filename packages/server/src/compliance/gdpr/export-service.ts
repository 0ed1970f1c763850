import type { Readable } from 'node:stream';
import type { DataExportBody, DataExportDestroyedReason, ExportPrivacySettings } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { Counter } from '../../counters/counter.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import type { UserService } from '../../identity/user-service.ts';
import { newId } from '../../ids.ts';
import type { JobDefinition, JobQueue } from '../../jobs/index.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { AuditInput } from '../audit/audit-entry.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/request-context.ts';
import { readArchive } from './export-archive-reader.ts';
import { newArchiveKey, openArchiveKey, partContext } from './export-keys.ts';
import { presentExport } from './export-presenter.ts';
import { exportProgress } from './export-progress.ts';
import type { ExportRequestLog } from './export-request-log.ts';
import { activeExportStatuses, type ExportRow, exportStore } from './export-store.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Exports listed per subject. */
const LIST_LIMIT = 100;

/**
 * How often exports may be asked for. Besides these, a subject has at most one export being built at a time.
 * An export reads everything a person has, so the limits keep one account (or one tenant) from keeping the
 * database busy; the subject's right is met by the one running and the next day's.
 */
export interface ExportLimits {
  /** Exports of one subject per 24 hours, by anyone. */
  perSubjectPerDay: number;
  /** Exports in one tenant per hour. */
  perTenantPerHour: number;
}

export const defaultExportLimits: ExportLimits = { perSubjectPerDay: 3, perTenantPerHour: 20 };

/** Who acts, and the request behind it, for the audit entry. */
export interface ExportActor {
  userId: string;
  sessionId: string | null;
  context: RequestContext;
}

/** A download: the archive's plaintext, streamed, and what the response needs to describe it. */
export interface ExportDownload {
  fileName: string;
  size: number;
  body: Readable;
}

export interface ExportServiceDeps {
  storage: Storage;
  fieldCipher: FieldCipher;
  users: Pick<UserService, 'statusForChangeIn' | 'getUserIn'>;
  audit: Pick<AuditLog, 'append'>;
  clock: Clock;
  counter: Counter;
  queue: Pick<JobQueue, 'enqueue' | 'cancel'>;
  /** The export job kind the requests enqueue. */
  job: JobDefinition<{ exportId: string }, unknown>;
  requests: ExportRequestLog | undefined;
  /** The tenant's export policy, read in the caller's transaction. */
  settings: (tx: TenantTx, tenantId: string) => Promise<ExportPrivacySettings>;
  limits?: ExportLimits;
}

/** Which exports a caller reaches: their own (asked for by them, about them), or any of the tenant's. */
export type ExportReach = { kind: 'own'; userId: string } | { kind: 'tenant' };

const userActor = (actor: ExportActor): AuditInput['actor'] => ({
  type: 'user',
  id: actor.userId,
  sessionId: actor.sessionId ?? undefined,
});

/**
 * Data exports (GDPR Art. 15 and 20): a user asks for their own, or an administrator for a user's; a durable
 * job (export-job.ts) builds the archive; only whoever asked can download it, until it expires (the
 * tenant's `exportRetentionDays`, 7 by default) and a scheduled sweep destroys it. Every step is audited in
 * the transaction that takes it, and recorded as a data subject request when request tracking is wired.
 * Another tenant's export, or one the caller may not reach, is `not_found`, as for an id that never existed.
 */
export function createExportService(deps: ExportServiceDeps) {
  const { storage, fieldCipher, users, audit, clock, counter, queue, requests } = deps;
  const limits = deps.limits ?? defaultExportLimits;

  async function reachable(tx: TenantTx, tenantId: string, exportId: string, reach: ExportReach) {
    const row = await exportStore.lock(tx, tenantId, exportId, storage.dialect);
    if (!row) throw new AppError('not_found');
    if (reach.kind === 'own' && (row.subject_id !== reach.userId || row.requested_by !== reach.userId))
      throw new AppError('not_found');
    return row;
  }

  /** An export as the API shows it, with how far its build has gone (its job's checkpoint while running). */
  async function present(tx: TenantTx, row: ExportRow): Promise<DataExportBody> {
    const checkpoint =
      row.status === 'running' ? await exportStore.checkpoint(tx, row.tenant_id, row.job_id) : null;
    return presentExport(row, exportProgress(row, checkpoint));
  }

  /** Takes one of each limit's allowance, or gives back what it took and refuses. */
  async function takeAllowance(tenantId: string, subjectId: string): Promise<void> {
    const windows = [
      { key: `export:subject:${tenantId}:${subjectId}`, windowMs: DAY_MS, limit: limits.perSubjectPerDay },
      { key: `export:tenant:${tenantId}`, windowMs: HOUR_MS, limit: limits.perTenantPerHour },
    ];
    const taken: typeof windows = [];
    for (const window of windows) {
      taken.push(window);
      if ((await counter.increment(window.key, window.windowMs)) > window.limit) {
        for (const back of taken) await counter.decrement(back.key, back.windowMs);
        throw new AppError('export_rate_limited', undefined, {
          'retry-after': String(Math.ceil(window.windowMs / 1000)),
        });
      }
    }
  }

  /** Ends an archive: its parts and key are deleted, the job stopped, the request closed if still open. */
  async function destroyIn(
    tx: TenantTx,
    row: ExportRow,
    reason: DataExportDestroyedReason,
    actor: AuditInput['actor'],
    context: RequestContext = {},
  ): Promise<ExportRow> {
    const building = (activeExportStatuses as readonly string[]).includes(row.status);
    if (building) await queue.cancel(tx, row.tenant_id, row.job_id);
    await exportStore.deleteParts(tx, row.tenant_id, row.id);
    const now = clock.now();
    const changes = {
      status: 'destroyed' as const,
      archive_key: null,
      destroyed_at: now,
      destroyed_reason: reason,
      updated_at: now,
    };
    await exportStore.update(tx, row.tenant_id, row.id, changes);
    if (building && requests && row.request_id !== null)
      await requests.closeIn(
        tx,
        row.tenant_id,
        row.request_id,
        'cancelled',
        'The export was cancelled before its archive was ready.',
      );
    await audit.append(tx, row.tenant_id, {
      actor,
      action: 'privacy.export_destroyed',
      target: { type: 'data_export', id: row.id },
      outcome: 'success',
      ...context,
      details: { subjectId: row.subject_id, reason },
    });
    return { ...row, ...changes };
  }

  const service = {
    /**
     * Asks for an export of `subjectId`: refused for an erased user (`subject_erased`: nothing is left to
     * give), while another export of them is being built (`export_in_progress`), or past the limits
     * (`export_rate_limited`). The export, its job, its request record and the audit entry commit together.
     */
    async request(
      tenantId: string,
      subjectId: string,
      actor: ExportActor,
      source: 'subject' | 'admin',
      /** `tenantExport`: one of the tenant-wide export of a closed tenant (tenancy/), not under the limits. */
      options: { tenantExport?: boolean } = {},
    ): Promise<DataExportBody> {
      return storage.withTenant(tenantId, async (tx) => {
        // Locks the user row (PostgreSQL): two requests for one subject take turns at the checks below.
        const { status } = await users.statusForChangeIn(tx, tenantId, subjectId);
        service.assertExportable(status);
        if (await exportStore.hasActive(tx, tenantId, subjectId)) throw new AppError('export_in_progress');
        if (options.tenantExport !== true) await takeAllowance(tenantId, subjectId);
        const settings = await deps.settings(tx, tenantId);
        const id = newId();
        const now = clock.now();
        const audited = { actor: userActor(actor), context: actor.context };
        const requestId =
          requests === undefined
            ? null
            : await requests.openIn(tx, tenantId, { subjectId, requestedBy: actor.userId, source }, audited);
        const jobId = await queue.enqueue(tx, deps.job, {
          tenantId,
          payload: { exportId: id },
          requestedBy: actor.userId,
        });
        const row: ExportRow = {
          id,
          tenant_id: tenantId,
          subject_id: subjectId,
          requested_by: actor.userId,
          source,
          request_id: requestId,
          job_id: jobId,
          status: 'queued',
          others_messages: settings.exportOthersMessages,
          retention_days: settings.exportRetentionDays,
          archive_key: await newArchiveKey(tx, fieldCipher, tenantId, id),
          part_count: 0,
          archive_bytes: 0,
          records: 0,
          error_code: null,
          download_count: 0,
          created_at: now,
          started_at: null,
          completed_at: null,
          expires_at: null,
          destroyed_at: null,
          destroyed_reason: null,
          updated_at: now,
        };
        await exportStore.insert(tx, row);
        await audit.append(tx, tenantId, {
          actor: audited.actor,
          action: 'privacy.export_requested',
          target: { type: 'user', id: subjectId },
          outcome: 'success',
          ...actor.context,
          details: { exportId: id, source, othersMessages: settings.exportOthersMessages },
        });
        return present(tx, row);
      });
    },

    /**
     * The check every export (and the erasure to come) relies on: an erased user has nothing left to
     * export, and must never get an archive rebuilt from what remains.
     */
    assertExportable(status: string): void {
      if (status === 'erased') throw new AppError('subject_erased');
    },

    /** The exports `reach` may see of one subject (own: only those they asked for), newest first. */
    async list(tenantId: string, subjectId: string, reach: ExportReach): Promise<DataExportBody[]> {
      return storage.withTenant(tenantId, async (tx) => {
        // Another tenant's user (or no user) is `not_found`, not an empty list.
        await users.getUserIn(tx, tenantId, subjectId);
        const rows = await exportStore.ofSubject(tx, tenantId, subjectId, LIST_LIMIT);
        const visible = rows.filter(
          (row) =>
            reach.kind === 'tenant' || (row.subject_id === reach.userId && row.requested_by === reach.userId),
        );
        // At most one of a subject's exports is being built, so this reads at most one checkpoint.
        const presented: DataExportBody[] = [];
        for (const row of visible) presented.push(await present(tx, row));
        return presented;
      });
    },

    async get(tenantId: string, exportId: string, reach: ExportReach): Promise<DataExportBody> {
      return storage.withTenant(tenantId, async (tx) =>
        present(tx, await reachable(tx, tenantId, exportId, reach)),
      );
    },

    /**
     * The archive, for whoever asked for it and nobody else (`not_found`, as for anyone who may not see it).
     * Not yet built: `export_not_ready`; failed: `export_failed`; expired or deleted: `export_expired` or
     * `export_destroyed`. Each download is counted and audited before the first byte leaves.
     */
    async download(
      tenantId: string,
      exportId: string,
      actor: ExportActor,
      reach: ExportReach,
    ): Promise<ExportDownload> {
      const opened = await storage.withTenant(tenantId, async (tx) => {
        const row = await reachable(tx, tenantId, exportId, reach);
        if (row.requested_by !== actor.userId) throw new AppError('not_found');
        const now = clock.now();
        if (row.status === 'queued' || row.status === 'running') throw new AppError('export_not_ready');
        if (row.status === 'failed') throw new AppError('export_failed');
        if (row.status === 'destroyed' || row.archive_key === null)
          throw new AppError(row.destroyed_reason === 'expired' ? 'export_expired' : 'export_destroyed');
        if (row.expires_at !== null && row.expires_at <= now) throw new AppError('export_expired');
        const key = await openArchiveKey(tx, fieldCipher, tenantId, row.id, row.archive_key);
        const parts = await exportStore.parts(tx, tenantId, row.id);
        await exportStore.update(tx, tenantId, row.id, {
          download_count: row.download_count + 1,
          updated_at: now,
        });
        await audit.append(tx, tenantId, {
          actor: userActor(actor),
          action: 'privacy.export_downloaded',
          target: { type: 'data_export', id: row.id },
          outcome: 'success',
          ...actor.context,
          details: { subjectId: row.subject_id },
        });
        return { row, key, parts };
      });
      const { row, key, parts } = opened;
      return {
        fileName: `parley-export-${row.id}.tar.gz`,
        size: row.archive_bytes,
        body: readArchive({
          key,
          contextOf: (part) => partContext(tenantId, row.id, part),
          parts: parts.map((part) => ({
            part: part.part,
            streamHeader: Buffer.from(part.stream_header, 'base64'),
            chunkCount: part.chunk_count,
          })),
          partCount: row.part_count,
          // One short transaction per read: a slow download never holds a transaction open.
          chunks: (part, from, to) =>
            storage.withTenant(tenantId, (tx) => exportStore.chunks(tx, tenantId, row.id, part, from, to)),
        }),
      };
    },

    /** Destroys an export now: a ready archive is deleted, one being built is stopped. Destroyed already: as is. */
    async destroy(
      tenantId: string,
      exportId: string,
      actor: ExportActor,
      reach: ExportReach,
    ): Promise<DataExportBody> {
      return storage.withTenant(tenantId, async (tx) => {
        const row = await reachable(tx, tenantId, exportId, reach);
        if (row.status === 'destroyed') return present(tx, row);
        return present(tx, await destroyIn(tx, row, 'deleted', userActor(actor), actor.context));
      });
    },

    /**
     * The scheduled sweep: destroys archives past their expiry, and marks failed the exports whose job
     * ended without finishing them (its node died on the last try, or it was cancelled outside the API).
     * At most `batch` of each per call; resolves with what it did.
     */
    async sweep(batch = 100): Promise<{ expired: number; failed: number }> {
      const now = clock.now();
      const [expired, orphaned] = await storage.withSystem(
        async (tx) =>
          [await exportStore.expired(tx, now, batch), await exportStore.orphaned(tx, batch)] as const,
      );
      let destroyedCount = 0;
      for (const { tenant_id: tenantId, id } of expired) {
        destroyedCount += await storage.withTenant(tenantId, async (tx) => {
          const row = await exportStore.lock(tx, tenantId, id, storage.dialect);
          if (row?.status !== 'ready' || row.expires_at === null || row.expires_at > now) return 0;
          await destroyIn(tx, row, 'expired', { type: 'system' });
          return 1;
        });
      }
      for (const { tenant_id: tenantId, id, error_code: code } of orphaned) {
        await storage.withTenant(tenantId, async (tx) => {
          const row = await exportStore.lock(tx, tenantId, id, storage.dialect);
          if (row?.status !== 'queued' && row?.status !== 'running') return;
          await exportStore.deleteParts(tx, tenantId, id);
          await exportStore.update(tx, tenantId, id, {
            status: 'failed',
            error_code: code ?? 'job_ended',
            archive_key: null,
            updated_at: clock.now(),
          });
          await audit.append(tx, tenantId, {
            actor: { type: 'system' },
            action: 'privacy.export_failed',
            target: { type: 'data_export', id },
            outcome: 'failure',
            details: { subjectId: row.subject_id, errorCode: code ?? 'job_ended' },
          });
        });
      }
      return { expired: destroyedCount, failed: orphaned.length };
    },
  };
  return service;
}

export type ExportService = ReturnType<typeof createExportService>;
