import type { TenantTx } from '../storage/database.ts';
import type { MailOutboxTable } from '../storage/tables.ts';

export type OutboxRow = MailOutboxTable;

/** Kysely queries for the embedded mail outbox; every query is scoped to the transaction's tenant. */
export const outboxStore = {
  async insert(tx: TenantTx, row: OutboxRow): Promise<void> {
    await tx.insertInto('mail_outbox').values(row).execute();
  },

  /** Newest first; ids are UUIDv7, so they break ties in creation order. */
  async latest(tx: TenantTx, tenantId: string, limit: number): Promise<OutboxRow[]> {
    return tx
      .selectFrom('mail_outbox')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
  },
};
