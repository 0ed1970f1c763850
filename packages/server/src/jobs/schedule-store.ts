import type { SystemTx } from '../storage/database.ts';
import type { ScheduledTaskOutcome, ScheduledTasksTable } from '../storage/tables.ts';

export type ScheduleRow = ScheduledTasksTable;

/** The `scheduled_tasks` queries: when each periodic task is next due, and how its last run went. */
export const scheduleStore = {
  async read(tx: SystemTx, names: readonly string[]): Promise<Map<string, ScheduleRow>> {
    if (names.length === 0) return new Map();
    const rows = await tx.selectFrom('scheduled_tasks').selectAll().where('name', 'in', names).execute();
    return new Map(rows.map((row) => [row.name, row]));
  },

  /** Creates the row of a task seen for the first time, or resets one whose cron expression changed. */
  async plan(tx: SystemTx, name: string, cron: string, nextRunAt: number): Promise<void> {
    await tx
      .insertInto('scheduled_tasks')
      .values({
        name,
        cron,
        next_run_at: nextRunAt,
        last_started_at: null,
        last_finished_at: null,
        last_outcome: null,
        last_error_code: null,
      })
      .onConflict((conflict) =>
        conflict
          .column('name')
          .doUpdateSet({ cron, next_run_at: nextRunAt })
          .where('scheduled_tasks.cron', '<>', cron),
      )
      .execute();
  },

  async started(tx: SystemTx, name: string, at: number): Promise<void> {
    await tx.updateTable('scheduled_tasks').set({ last_started_at: at }).where('name', '=', name).execute();
  },

  async finished(
    tx: SystemTx,
    name: string,
    run: { at: number; outcome: ScheduledTaskOutcome; errorCode: string | null; nextRunAt: number },
  ): Promise<void> {
    await tx
      .updateTable('scheduled_tasks')
      .set({
        last_finished_at: run.at,
        last_outcome: run.outcome,
        last_error_code: run.errorCode,
        next_run_at: run.nextRunAt,
      })
      .where('name', '=', name)
      .execute();
  },
};
