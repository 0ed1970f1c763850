import { sql } from 'kysely';
import type { Storage } from './database.ts';

/**
 * Whether the PostgreSQL server runs with autovacuum switched off (never true on SQLite). Parley's plans rely
 * on the statistics it keeps: an index made on an empty table says it is empty until a vacuum, and the
 * planner then prefers it to the primary key (measured: 26 s a search at 20,000 messages, docs/performance.md).
 */
export async function autovacuumOff(storage: Storage): Promise<boolean> {
  if (storage.dialect !== 'postgres') return false;
  const { rows } = await sql<{ setting: string }>`select setting from pg_settings
    where name = 'autovacuum'`.execute(storage.kysely);
  return rows[0]?.setting === 'off';
}
