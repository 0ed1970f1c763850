import type { SystemTx, TenantTx } from '../../storage/database.ts';
import type { DialectName } from '../../storage/dialects/dialect-adapter.ts';
import type { DataExportChunksTable, DataExportPartsTable, DataExportsTable } from '../../storage/tables.ts';

export type ExportRow = DataExportsTable;
export type ExportPartRow = DataExportPartsTable;
export type ExportChunkRow = DataExportChunksTable;

/** Statuses of an export whose archive is still being built. */
export const activeExportStatuses = ['queued', 'running'] as const;

/** Kysely queries for data exports and their stored archive parts; every tenant query names the tenant. */
export const exportStore = {
  async insert(tx: TenantTx, row: ExportRow): Promise<void> {
    await tx.insertInto('data_exports').values(row).execute();
  },

  async find(tx: TenantTx, tenantId: string, id: string): Promise<ExportRow | undefined> {
    return tx
      .selectFrom('data_exports')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
  },

  /** The row, locked until the transaction ends on PostgreSQL (SQLite serialises writers). */
  async lock(tx: TenantTx, tenantId: string, id: string, dialect: DialectName) {
    return tx
      .selectFrom('data_exports')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .$if(dialect === 'postgres', (query) => query.forUpdate())
      .executeTakeFirst();
  },

  async update(tx: TenantTx, tenantId: string, id: string, changes: Partial<ExportRow>): Promise<void> {
    await tx
      .updateTable('data_exports')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  },

  /** A subject's exports, newest first. */
  async ofSubject(tx: TenantTx, tenantId: string, subjectId: string, limit: number): Promise<ExportRow[]> {
    return tx
      .selectFrom('data_exports')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('subject_id', '=', subjectId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
  },

  /** The stored checkpoint (JSON) of an export's job, null before its first one. */
  async checkpoint(tx: TenantTx, tenantId: string, jobId: string): Promise<string | null> {
    const row = await tx
      .selectFrom('jobs')
      .select('progress')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', jobId)
      .executeTakeFirst();
    return row?.progress ?? null;
  },

  /** Whether an export of the subject is still being built. */
  async hasActive(tx: TenantTx, tenantId: string, subjectId: string): Promise<boolean> {
    const row = await tx
      .selectFrom('data_exports')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('subject_id', '=', subjectId)
      .where('status', 'in', [...activeExportStatuses])
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  },

  /** Ready archives past their expiry, across tenants (the sweep; a system transaction). */
  async expired(tx: SystemTx, now: number, limit: number) {
    return tx
      .selectFrom('data_exports')
      .select(['tenant_id', 'id'])
      .where('status', '=', 'ready')
      .where('expires_at', '<=', now)
      .orderBy('expires_at')
      .limit(limit)
      .execute();
  },

  /**
   * Exports still marked as being built whose job ended without finishing them (failed on its last attempt,
   * abandoned by a dead node, or cancelled), across tenants.
   */
  async orphaned(tx: SystemTx, limit: number) {
    return tx
      .selectFrom('data_exports as e')
      .innerJoin('jobs as j', 'j.id', 'e.job_id')
      .select(['e.tenant_id', 'e.id', 'j.state', 'j.error_code'])
      .where('e.status', 'in', [...activeExportStatuses])
      .where('j.state', 'in', ['failed', 'cancelled', 'succeeded'])
      .limit(limit)
      .execute();
  },

  async insertPart(tx: TenantTx, row: ExportPartRow): Promise<void> {
    await tx.insertInto('data_export_parts').values(row).execute();
  },

  async insertChunks(tx: TenantTx, rows: readonly ExportChunkRow[]): Promise<void> {
    if (rows.length > 0) await tx.insertInto('data_export_chunks').values(rows).execute();
  },

  async parts(tx: TenantTx, tenantId: string, exportId: string): Promise<ExportPartRow[]> {
    return tx
      .selectFrom('data_export_parts')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('export_id', '=', exportId)
      .orderBy('part')
      .execute();
  },

  /** Chunks `from` to `to` (inclusive) of one part, in order. */
  async chunks(tx: TenantTx, tenantId: string, exportId: string, part: number, from: number, to: number) {
    return tx
      .selectFrom('data_export_chunks')
      .select(['idx', 'data'])
      .where('tenant_id', '=', tenantId)
      .where('export_id', '=', exportId)
      .where('part', '=', part)
      .where('idx', '>=', from)
      .where('idx', '<=', to)
      .orderBy('idx')
      .execute();
  },

  /**
   * Deletes the stored archive from part `fromPart` on (0: all of it): a resumed build drops the chunks of
   * the part it was writing when it stopped, and destruction drops everything.
   */
  async deleteParts(tx: TenantTx, tenantId: string, exportId: string, fromPart = 0): Promise<void> {
    await tx
      .deleteFrom('data_export_chunks')
      .where('tenant_id', '=', tenantId)
      .where('export_id', '=', exportId)
      .where('part', '>=', fromPart)
      .execute();
    await tx
      .deleteFrom('data_export_parts')
      .where('tenant_id', '=', tenantId)
      .where('export_id', '=', exportId)
      .where('part', '>=', fromPart)
      .execute();
  },
};
