import type { SystemTx } from '../storage/database.ts';
import type { AlertStatesTable } from '../storage/tables.ts';

export type AlertStateRow = AlertStatesTable;

/** The `alert_states` queries: what the embedded alerting has raised, and which notices went out. */
export const alertStateStore = {
  /** Every row of one scope: cluster-wide rows (`nodeId` null) or one node's. */
  async read(tx: SystemTx, nodeId: string | null): Promise<AlertStateRow[]> {
    return tx
      .selectFrom('alert_states')
      .selectAll()
      .where('node_id', nodeId === null ? 'is' : '=', nodeId)
      .execute();
  },

  async save(tx: SystemTx, rows: readonly AlertStateRow[]): Promise<void> {
    for (const row of rows) {
      await tx
        .insertInto('alert_states')
        .values(row)
        .onConflict((conflict) =>
          conflict.column('key').doUpdateSet({
            status: row.status,
            severity: row.severity,
            summary: row.summary,
            started_at: row.started_at,
            last_notified_at: row.last_notified_at,
            resolved_at: row.resolved_at,
            updated_at: row.updated_at,
          }),
        )
        .execute();
    }
  },
};
