import { createPublicKey, verify } from 'node:crypto';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import { canonicalJson, SYSTEM_TENANT_ID } from '../compliance/audit/audit-entry.ts';
import type { AuditLog } from '../compliance/audit/audit-log.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { SigningKeys } from '../crypto/signing-keys.ts';
import { destroyTenantKeyRows } from '../crypto/tenant-purge-register.ts';
import { type Storage, withSavepoint } from '../storage/database.ts';
import {
  deleteTenantRows,
  hasTenantRows,
  seeTenantAsOwner,
  tablesWithTenantId,
} from '../storage/dialects/tenant-rows.ts';
import { type TenantClosureRow, tenantCloseStore } from './tenant-close-store.ts';

/** What a purge did so far; committed with every batch, so an interrupted purge resumes where it stopped. */
export interface TenantPurgeProgress {
  keysDestroyed: number;
  rowsDeleted: Record<string, number>;
}

/** The certificate of deletion of a purged tenant, signed with the audit signing key. */
export interface TenantDeletionCertificate {
  format: 'parley-tenant-deletion-certificate/1';
  closureId: string;
  tenantId: string;
  closedAt: string;
  closedBy: string;
  purgeStartedAt: string;
  completedAt: string;
  keysDestroyed: number;
  rowsDeleted: Record<string, number>;
  remains: string[];
}

export interface SignedTenantDeletionCertificate {
  certificate: TenantDeletionCertificate;
  signature: string;
  keyId: string;
  /** The signing key's public half (SPKI DER, base64): anyone can verify without the server. */
  publicKey: string;
}

/**
 * Is anything in the tenant under a legal hold (a hold on the tenant, or on any user or dialog in it)? The
 * legal holds of compliance/retention answer it (app.ts wires `legalHolds.isHeld`).
 */
export type TenantHoldCheck = (tenantId: string) => Promise<boolean>;

/** Tables the purge never touches: the closure record is the proof of deletion and must outlive the tenant. */
const KEPT_TABLES = new Set(['tenant_closures']);
/** Rows deleted per statement: small transactions, so other tenants' writers are never held up for long. */
const DEFAULT_BATCH = 500;

export const purgeRemains: readonly string[] = [
  'This closure record: the tenant id, times, counts and this certificate (system table tenant_closures).',
  'Entries on the system audit chain naming the tenant id: closed, reopened, purge started, purged.',
  'Copies of the database taken before the purge: their rows remain, but the tenant’s keys are refused and ' +
    'deleted from any copy this server opens (purged-tenants register beside the master key), so no field opens.',
];

const iso = (at: number) => new Date(at).toISOString();

export const parseProgress = (text: string): TenantPurgeProgress => JSON.parse(text) as TenantPurgeProgress;

export interface TenantPurgeDeps {
  storage: Storage;
  clock: Clock;
  audit: Pick<AuditLog, 'append'>;
  keyring: Pick<Keyring, 'tenantPurgeRegister' | 'forgetTenant'>;
  signingKeys: Pick<SigningKeys, 'sign'>;
  holds: TenantHoldCheck;
  batchSize?: number;
}

/**
 * The purge of a closed tenant whose export window ended: refused while a legal hold exists; then, in this
 * order, (1) the stage becomes `purging` (every request of the tenant is refused from here on), (2) the tenant is
 * written to the purge register outside the database and its keys are deleted, so everything after this point
 * is already unreadable ciphertext, in this database and in every copy of it, (3) every row of the tenant in
 * every table carrying a `tenant_id` is deleted in batches, each committed with the progress counts, (4) the
 * tenant row goes, and (5) the signed certificate is stored in the closure record and noted on the system audit
 * chain. Every step is idempotent: a purge interrupted anywhere resumes from its committed progress.
 */
export function createTenantPurge(deps: TenantPurgeDeps) {
  const { storage, clock, audit, keyring, signingKeys } = deps;
  const batchSize = deps.batchSize ?? DEFAULT_BATCH;
  const lock = storage.dialect === 'postgres';

  async function start(tenantId: string): Promise<TenantClosureRow> {
    if (await deps.holds(tenantId)) throw new AppError('tenant_on_hold');
    return storage.withSystem(async (tx) => {
      const row = await tenantCloseStore.current(tx, tenantId, lock);
      if (!row) throw new AppError('tenant_not_closed');
      if (row.stage === 'purged') throw new AppError('tenant_purged');
      if (row.stage === 'purging') return row;
      if (row.purge_after > clock.now()) throw new AppError('tenant_purge_not_due');
      const now = clock.now();
      const started = { stage: 'purging' as const, purge_started_at: now, updated_at: now };
      await tenantCloseStore.update(tx, row.id, started);
      await tenantCloseStore.setTenantStatus(tx, tenantId, 'purging');
      const systemTx = await storage.enterTenant(tx, SYSTEM_TENANT_ID);
      await audit.append(systemTx, SYSTEM_TENANT_ID, {
        actor: { type: 'system' },
        action: 'tenant.purge_started',
        target: { type: 'tenant', id: tenantId },
        outcome: 'success',
        details: { closureId: row.id },
      });
      return { ...row, ...started };
    });
  }

  async function destroyKeys(row: TenantClosureRow, progress: TenantPurgeProgress): Promise<void> {
    // Registered (fsynced) first: should anything fail after this, no key of the tenant opens again.
    keyring.tenantPurgeRegister.record({ tenantId: row.tenant_id, at: clock.now() });
    keyring.forgetTenant(row.tenant_id);
    progress.keysDestroyed += await destroyTenantKeyRows(storage, row.tenant_id);
    await storage.withSystem((tx) =>
      tenantCloseStore.update(tx, row.id, { progress: JSON.stringify(progress), updated_at: clock.now() }),
    );
  }

  /** One batch from the first table that still has rows and lets them go; false when every table is empty. */
  async function deleteBatch(row: TenantClosureRow, progress: TenantPurgeProgress): Promise<boolean> {
    return storage.withSystem(async (tx) => {
      await seeTenantAsOwner(tx, storage.dialect, row.tenant_id);
      const tables = (await tablesWithTenantId(tx, storage.dialect, storage.adapter.schema)).filter(
        (table) => !KEPT_TABLES.has(table),
      );
      let blocked: string | undefined;
      for (const table of tables) {
        if (!(await hasTenantRows(tx, table, row.tenant_id))) continue;
        // A row another table still references (a foreign key without cascade) waits for that table's turn.
        const deleted = await withSavepoint(tx, () =>
          deleteTenantRows(tx, storage.dialect, table, row.tenant_id, batchSize),
        ).catch(() => undefined);
        if (deleted === undefined) {
          blocked ??= table;
          continue;
        }
        progress.rowsDeleted[table] = (progress.rowsDeleted[table] ?? 0) + deleted;
        await tenantCloseStore.update(tx, row.id, {
          progress: JSON.stringify(progress),
          updated_at: clock.now(),
        });
        return true;
      }
      if (blocked !== undefined)
        throw new Error(
          `tenant purge: rows of ${blocked} cannot be deleted (referenced from outside the tenant)`,
        );
      return false;
    });
  }

  async function finish(row: TenantClosureRow, progress: TenantPurgeProgress) {
    return storage.withSystem(async (tx) => {
      await tx.deleteFrom('tenants').where('id', '=', row.tenant_id).execute();
      const now = clock.now();
      const certificate: TenantDeletionCertificate = {
        format: 'parley-tenant-deletion-certificate/1',
        closureId: row.id,
        tenantId: row.tenant_id,
        closedAt: iso(row.closed_at),
        closedBy: row.closed_by,
        purgeStartedAt: iso(row.purge_started_at ?? now),
        completedAt: iso(now),
        keysDestroyed: progress.keysDestroyed,
        rowsDeleted: progress.rowsDeleted,
        remains: [...purgeRemains],
      };
      const { signature, keyId } = signingKeys.sign(Buffer.from(canonicalJson(certificate), 'utf8'));
      await tenantCloseStore.update(tx, row.id, {
        stage: 'purged',
        purged_at: now,
        progress: JSON.stringify(progress),
        certificate: JSON.stringify(certificate),
        signature,
        key_id: keyId,
        updated_at: now,
      });
      const systemTx = await storage.enterTenant(tx, SYSTEM_TENANT_ID);
      await audit.append(systemTx, SYSTEM_TENANT_ID, {
        actor: { type: 'system' },
        action: 'tenant.purged',
        target: { type: 'tenant', id: row.tenant_id },
        outcome: 'success',
        details: { closureId: row.id, keysDestroyed: progress.keysDestroyed, signature, keyId },
      });
      return { certificate, signature, keyId, publicKey: await tenantCloseStore.publicKey(tx, keyId) };
    });
  }

  return {
    /**
     * Purges one tenant (see above); resolves with the signed certificate. `signal` is checked between batches:
     * an aborted purge stays `purging` and the next run resumes it.
     */
    async purge(tenantId: string, signal?: AbortSignal): Promise<SignedTenantDeletionCertificate> {
      const row = await start(tenantId);
      const progress = parseProgress(row.progress);
      if (progress.keysDestroyed === 0 || !keyring.tenantPurgeRegister.has(tenantId))
        await destroyKeys(row, progress);
      for (;;) {
        signal?.throwIfAborted();
        if (!(await deleteBatch(row, progress))) break;
      }
      return finish(row, progress);
    },
  };
}

export type TenantPurge = ReturnType<typeof createTenantPurge>;

/** Verifies a tenant deletion certificate with the public key it carries. */
export function verifyTenantCertificate(signed: SignedTenantDeletionCertificate): boolean {
  const publicKey = createPublicKey({
    key: Buffer.from(signed.publicKey, 'base64'),
    format: 'der',
    type: 'spki',
  });
  return verify(
    null,
    Buffer.from(canonicalJson(signed.certificate), 'utf8'),
    publicKey,
    Buffer.from(signed.signature, 'base64'),
  );
}

/**
 * The purged tenants whose certificate of deletion verifies under a trusted audit signing key (one sealed by
 * the master key), and whose tenant row is gone: `parley audit verify` reports their missing chain as purged,
 * not as deleted. A row a database writer inserted to hide a deleted chain carries no valid signature.
 */
export async function provenPurges(
  storage: Storage,
  signingKeys: Pick<SigningKeys, 'verify'>,
): Promise<Map<string, { closureId: string; purgedAt: string; keyId: string }>> {
  const rows = await storage.withSystem((tx) => tenantCloseStore.list(tx, ['purged']));
  const proven = new Map<string, { closureId: string; purgedAt: string; keyId: string }>();
  for (const row of rows) {
    if (row.certificate === null || row.signature === null || row.key_id === null) continue;
    const certificate = JSON.parse(row.certificate) as TenantDeletionCertificate;
    if (certificate.tenantId !== row.tenant_id || certificate.closureId !== row.id) continue;
    const bytes = Buffer.from(canonicalJson(certificate), 'utf8');
    if (!(await signingKeys.verify(row.key_id, bytes, row.signature))) continue;
    const exists = await storage.withSystem((tx) => tenantCloseStore.tenantExists(tx, row.tenant_id));
    if (!exists)
      proven.set(row.tenant_id, { closureId: row.id, purgedAt: certificate.completedAt, keyId: row.key_id });
  }
  return proven;
}
