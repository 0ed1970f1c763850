import type { Readable } from 'node:stream';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import { newId } from '../../ids.ts';
import type { JobQueue } from '../../jobs/index.ts';
import type { StaffPrincipal } from '../../platform/staff-service.ts';
import type { Storage, SystemTx } from '../../storage/database.ts';
import { type AuditInput, PLATFORM_CHAIN_ID } from '../audit/audit-entry.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { type LegalPackageJob, openPackageKey, readPackage, sealPackageKey } from './legal-package-job.ts';
import { legalPackageStore as store, type LegalPackageRow } from './legal-package-store.ts';

/** A download: the package's .tar.gz, streamed, and what the response needs to describe it. */
export interface LegalPackageDownload {
  fileName: string;
  size: number;
  body: Readable;
}

const actorOf = (staff: StaffPrincipal) =>
  ({ type: 'staff', id: staff.staffId, sessionId: staff.sessionId }) as const;

/**
 * Disclosure packages of law-enforcement requests (docs/compliance.md): built by the export engine
 * (legal-package-job.ts) from the approved scope only once the request is approved and the tenant was told
 * (or a non-disclosure order holds); downloadable by security officers only, until the window ends, when the
 * scheduled pass destroys it. Every step in the platform chain only: a gagged tenant's own chain must not
 * show it.
 */
export function createLegalPackageService(deps: {
  storage: Storage;
  fieldCipher: FieldCipher;
  audit: Pick<AuditLog, 'append'>;
  queue: Pick<JobQueue, 'enqueue'>;
  job: LegalPackageJob;
  clock: Clock;
}) {
  const { storage, fieldCipher, audit, queue, job, clock } = deps;

  async function record(tx: SystemTx, input: AuditInput): Promise<void> {
    await audit.append(await storage.enterTenant(tx, PLATFORM_CHAIN_ID), PLATFORM_CHAIN_ID, input);
  }

  async function requestOf(tx: SystemTx, id: string) {
    const row = await tx.selectFrom('legal_requests').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new AppError('not_found', 'No such request.');
    return row;
  }

  async function latest(tx: SystemTx, requestId: string): Promise<LegalPackageRow> {
    const request = await requestOf(tx, requestId);
    const tenantTx = await storage.enterTenant(tx, request.target_tenant_id);
    const row = await store.latestOf(tenantTx, request.target_tenant_id, requestId);
    if (!row) throw new AppError('not_found', 'No disclosure package was built for this request.');
    return row;
  }

  return {
    /**
     * Queues the package's build: only of an approved request with an approved scope, only once the tenant
     * was told (or while a non-disclosure order holds), and not while one is being built or ready.
     */
    async build(staff: StaffPrincipal, requestId: string): Promise<LegalPackageRow> {
      const now = clock.now();
      return storage.withSystem(async (tx) => {
        const request = await requestOf(tx, requestId);
        if (request.status !== 'approved') throw new AppError('legal_request_not_approved');
        const gagged = request.nondisclosure_until !== null && request.nondisclosure_until > now;
        if (request.tenant_notified_at === null && !gagged) throw new AppError('tenant_notice_required');
        if (!request.approved_scope_spec) throw new AppError('legal_scope_undefined');
        const tenantId = request.target_tenant_id;
        const id = newId();
        // The job row is a system one: queued before the transaction enters the tenant's context.
        await queue.enqueue(tx, job, {
          tenantId: null,
          payload: { packageId: id, tenantId },
          requestedBy: staff.staffId,
        });
        const tenantTx = await storage.enterTenant(tx, tenantId);
        const previous = await store.latestOf(tenantTx, tenantId, requestId);
        if (previous?.status === 'building' || previous?.status === 'ready')
          throw new AppError('legal_package_exists');
        const row: LegalPackageRow = {
          id,
          tenant_id: tenantId,
          request_id: requestId,
          status: 'building',
          archive_key: await sealPackageKey(tenantTx, fieldCipher, tenantId, id),
          stream_header: null,
          chunk_count: 0,
          plain_size: 0,
          sha256: null,
          records: 0,
          created_by: staff.staffId,
          created_at: now,
          completed_at: null,
          expires_at: null,
          download_count: 0,
          updated_at: now,
        };
        await store.insert(tenantTx, row);
        await record(tx, {
          actor: actorOf(staff),
          action: 'legal_request.package_requested',
          target: { type: 'legal_request', id: requestId },
          outcome: 'success',
          details: { packageId: id },
        });
        return row;
      });
    },

    get(requestId: string): Promise<LegalPackageRow> {
      return storage.withSystem((tx) => latest(tx, requestId));
    },

    /** The archive for a security officer, counted and audited before the first byte leaves. */
    async download(staff: StaffPrincipal, requestId: string): Promise<LegalPackageDownload> {
      const now = clock.now();
      const { row, key } = await storage.withSystem(async (tx) => {
        const found = await latest(tx, requestId);
        if (found.status === 'expired' || (found.expires_at !== null && found.expires_at <= now))
          throw new AppError('legal_package_expired');
        if (found.status !== 'ready') throw new AppError('legal_package_not_ready');
        const tenantTx = await storage.enterTenant(tx, found.tenant_id);
        const opened = await openPackageKey(tenantTx, fieldCipher, found);
        await store.update(tenantTx, found.tenant_id, found.id, {
          download_count: found.download_count + 1,
          updated_at: now,
        });
        await record(tx, {
          actor: actorOf(staff),
          action: 'legal_request.package_downloaded',
          target: { type: 'legal_request', id: requestId },
          outcome: 'success',
          details: { packageId: found.id, sha256: found.sha256 },
        });
        return { row: found, key: opened };
      });
      return {
        fileName: `parley-disclosure-${requestId}.tar.gz`,
        size: row.plain_size,
        body: readPackage(storage, row, key),
      };
    },

    /** The scheduled pass: packages whose download window ended lose their archive and key. */
    async expire(): Promise<string[]> {
      const now = clock.now();
      const due = await storage.withSystem((tx) => store.expired(tx, now));
      const expired: string[] = [];
      for (const row of due)
        await storage.withSystem(async (tx) => {
          const tenantTx = await storage.enterTenant(tx, row.tenant_id);
          // Two passes at once (the schedule and a caller) both read it as due: one expires and audits it.
          if (!(await store.claimExpiry(tenantTx, row.tenant_id, row.id, now))) return;
          expired.push(row.id);
          await store.deleteChunks(tenantTx, row.tenant_id, row.id);
          await record(tx, {
            actor: { type: 'system' },
            action: 'legal_request.package_expired',
            target: { type: 'legal_request', id: row.request_id },
            outcome: 'success',
            details: { packageId: row.id },
          });
        });
      return expired;
    },
  };
}

export type LegalPackageService = ReturnType<typeof createLegalPackageService>;
