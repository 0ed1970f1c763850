import type { TenantTx } from '../../storage/database.ts';
import type { AccessLogTable } from '../../storage/tables.ts';

export type AccessLogRow = AccessLogTable;

/** Who read what, between two times (ms); every filter optional but the tenant. */
export interface AccessRowFilter {
  dialogId?: string | undefined;
  readerId?: string | undefined;
  /** Reads that showed a message this user sent, a file they uploaded, or their data export. */
  authorId?: string | undefined;
  /** Inclusive: reads that went on at or after it. */
  from?: number | undefined;
  /** Exclusive: reads that began before it. */
  to?: number | undefined;
}

/** Rows per insert: 14 columns each stay under SQLite's bound-variable limit. */
const INSERT_CHUNK = 500;

/** Kysely queries for `access_log`. */
export const accessLogStore = {
  async insert(tx: TenantTx, rows: readonly AccessLogRow[]): Promise<void> {
    for (let start = 0; start < rows.length; start += INSERT_CHUNK)
      await tx
        .insertInto('access_log')
        .values(rows.slice(start, start + INSERT_CHUNK))
        .execute();
  },

  /** One page ordered by (first_read_at, id), after the keyset position when given. */
  async query(
    tx: TenantTx,
    tenantId: string,
    filter: AccessRowFilter,
    page: { after?: { at: number; id: string } | undefined; limit: number },
  ): Promise<AccessLogRow[]> {
    const { dialogId, readerId, authorId, from, to } = filter;
    const { after } = page;
    return tx
      .selectFrom('access_log as a')
      .selectAll('a')
      .where('a.tenant_id', '=', tenantId)
      .$if(dialogId !== undefined, (q) => q.where('a.dialog_id', '=', dialogId as string))
      .$if(readerId !== undefined, (q) => q.where('a.reader_id', '=', readerId as string))
      .$if(from !== undefined, (q) => q.where('a.last_read_at', '>=', from as number))
      .$if(to !== undefined, (q) => q.where('a.first_read_at', '<', to as number))
      .$if(authorId !== undefined, (q) =>
        q.where((eb) =>
          eb.or([
            eb.exists(
              eb
                .selectFrom('messages as m')
                .select('m.id')
                .whereRef('m.tenant_id', '=', 'a.tenant_id')
                .whereRef('m.dialog_id', '=', 'a.dialog_id')
                .where('m.sender_id', '=', authorId as string)
                .whereRef('m.seq', '>=', 'a.from_seq')
                .whereRef('m.seq', '<=', 'a.to_seq'),
            ),
            eb.exists(
              eb
                .selectFrom('attachments as f')
                .select('f.id')
                .whereRef('f.tenant_id', '=', 'a.tenant_id')
                .whereRef('f.id', '=', 'a.file_id')
                .where('f.uploader_id', '=', authorId as string),
            ),
            // An export archive holds its subject's messages (and, by the tenant's policy, others').
            eb.exists(
              eb
                .selectFrom('data_exports as x')
                .select('x.id')
                .whereRef('x.tenant_id', '=', 'a.tenant_id')
                .whereRef('x.id', '=', 'a.file_id')
                .where('x.subject_id', '=', authorId as string),
            ),
          ]),
        ),
      )
      .$if(after !== undefined, (q) =>
        q.where((eb) =>
          eb.or([
            eb('a.first_read_at', '>', after?.at as number),
            eb.and([eb('a.first_read_at', '=', after?.at as number), eb('a.id', '>', after?.id as string)]),
          ]),
        ),
      )
      .orderBy('a.first_read_at')
      .orderBy('a.id')
      .limit(page.limit)
      .execute();
  },

  /** Whether the dialog is the tenant's (deleted ones too: their reads stay on record). */
  async dialogExists(tx: TenantTx, tenantId: string, dialogId: string): Promise<boolean> {
    const row = await tx
      .selectFrom('dialogs')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', dialogId)
      .executeTakeFirst();
    return row !== undefined;
  },

  /** The rows one batch entry chains. */
  async batch(tx: TenantTx, tenantId: string, batchSeq: number): Promise<AccessLogRow[]> {
    return tx
      .selectFrom('access_log')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('batch_seq', '=', batchSeq)
      .orderBy('id')
      .execute();
  },

  /** Every batch seq that has rows, with its row count. */
  async batchSeqs(tx: TenantTx, tenantId: string): Promise<{ batch_seq: number; rows: number }[]> {
    return tx
      .selectFrom('access_log')
      .select(['batch_seq', (eb) => eb.fn.countAll<number>().as('rows')])
      .where('tenant_id', '=', tenantId)
      .groupBy('batch_seq')
      .orderBy('batch_seq')
      .execute();
  },

  /** Removes the rows of batches whose chain entries retention pruned (seq at most `throughSeq`). */
  async deleteThrough(tx: TenantTx, tenantId: string, throughSeq: number): Promise<number> {
    const result = await tx
      .deleteFrom('access_log')
      .where('tenant_id', '=', tenantId)
      .where('batch_seq', '<=', throughSeq)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  },
};
