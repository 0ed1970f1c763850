import type { TenantTx } from '../../storage/database.ts';
import type { MessageRow } from '../dialog-store.ts';

/** The rows behind a result page. */
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
};
