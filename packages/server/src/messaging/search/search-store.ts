import type { TenantTx } from '../../storage/database.ts';
import type { DialectName } from '../../storage/dialects/dialect-adapter.ts';
import type { MessageRow } from '../dialog-store.ts';

/** The rows behind a result page, and the messages the re-index must catch up on. */
export const searchStore = {
  async messagesByIds(tx: TenantTx, tenantId: string, ids: readonly string[]): Promise<MessageRow[]> {
    if (ids.length === 0) return [];
    return tx
      .selectFrom('messages')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', [...ids])
      .execute();
  },

  /**
   * Up to `limit` messages after `afterId`, in id order, that are not deleted, whose dialog is not deleted,
   * and that have no index entry (or, with `all`, whether they have one or not). On PostgreSQL they are
   * share-locked until commit, so an edit or delete that runs meanwhile waits for the re-index of that
   * message instead of racing it.
   */
  async messagesToIndex(
    tx: TenantTx,
    tenantId: string,
    options: { afterId: string; limit: number; dialect: DialectName; all: boolean },
  ): Promise<MessageRow[]> {
    return tx
      .selectFrom('messages as msg')
      .innerJoin('dialogs as d', 'd.id', 'msg.dialog_id')
      .selectAll('msg')
      .where('msg.tenant_id', '=', tenantId)
      .where('d.tenant_id', '=', tenantId)
      .where('msg.deleted_at', 'is', null)
      .where('d.deleted_at', 'is', null)
      .where('msg.id', '>', options.afterId)
      .$if(!options.all, (query) =>
        query.where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('message_search as s')
                .select('s.message_id')
                .whereRef('s.message_id', '=', 'msg.id')
                .where('s.tenant_id', '=', tenantId),
            ),
          ),
        ),
      )
      .orderBy('msg.id')
      .limit(options.limit)
      .$if(options.dialect === 'postgres', (query) => query.forShare('msg'))
      .execute();
  },

  /** How many of these messages have an index entry. */
  async indexedAmong(tx: TenantTx, tenantId: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const row = await tx
      .selectFrom('message_search')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('tenant_id', '=', tenantId)
      .where('message_id', 'in', [...ids])
      .executeTakeFirstOrThrow();
    return Number(row.n);
  },
};
