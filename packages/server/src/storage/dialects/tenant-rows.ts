import { sql } from 'kysely';
import type { SystemTx } from '../database.ts';
import type { DialectName } from './dialect-adapter.ts';

/**
 * Tenant-wide maintenance the typed stores cannot express: find every table that carries a `tenant_id`
 * (from the database's own catalogue, so a table added by any later migration is covered without a list to
 * keep), and delete one tenant's rows from one of them in bounded batches. Used by the tenant purge.
 */

/**
 * Every base table of the schema with a `tenant_id` column, each before the tables it references: deleting in
 * this order never leaves a foreign-key cascade to delete rows behind the caller's back (uncounted).
 */
export async function tablesWithTenantId(
  tx: SystemTx,
  dialect: DialectName,
  schema: string | undefined,
): Promise<string[]> {
  const tables = await unorderedTables(tx, dialect, schema);
  const edges = await references(tx, dialect, schema);
  const ordered: string[] = [];
  const left = new Set(tables);
  while (left.size > 0) {
    // A table is next once no table still left references it (self-references do not count).
    const next = [...left].filter(
      (table) => !edges.some(({ child, parent }) => parent === table && child !== table && left.has(child)),
    );
    const batch = next.length > 0 ? next : [...left];
    for (const table of batch) {
      ordered.push(table);
      left.delete(table);
    }
  }
  return ordered;
}

async function references(
  tx: SystemTx,
  dialect: DialectName,
  schema: string | undefined,
): Promise<{ child: string; parent: string }[]> {
  if (dialect === 'sqlite') {
    const { rows } = await sql<{ child: string; parent: string }>`
      select m.name as child, f."table" as parent from sqlite_master m, pragma_foreign_key_list(m.name) f
      where m.type = 'table'`.execute(tx);
    return rows;
  }
  const { rows } = await sql<{ child: string; parent: string }>`
    select tc.table_name as child, ccu.table_name as parent from information_schema.table_constraints tc
    join information_schema.constraint_column_usage ccu
      on ccu.constraint_name = tc.constraint_name and ccu.constraint_schema = tc.constraint_schema
    where tc.constraint_type = 'FOREIGN KEY' and tc.table_schema = ${schema ?? 'public'}`.execute(tx);
  return rows;
}

async function unorderedTables(
  tx: SystemTx,
  dialect: DialectName,
  schema: string | undefined,
): Promise<string[]> {
  if (dialect === 'sqlite') {
    const { rows } = await sql<{ name: string }>`
      select m.name as name from sqlite_master m, pragma_table_info(m.name) c
      where m.type = 'table' and c.name = 'tenant_id' order by m.name`.execute(tx);
    return rows.map((row) => row.name);
  }
  const { rows } = await sql<{ name: string }>`
    select c.table_name as name from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = ${schema ?? 'public'} and c.column_name = 'tenant_id' and t.table_type = 'BASE TABLE'
    order by c.table_name`.execute(tx);
  return rows.map((row) => row.name);
}

/**
 * Makes the rest of a maintenance transaction see one tenant's rows under row-level security, as the schema's
 * owner (not the application role, which may not delete audit entries). A no-op on SQLite.
 */
export async function seeTenantAsOwner(tx: SystemTx, dialect: DialectName, tenantId: string): Promise<void> {
  if (dialect === 'postgres') await sql`select set_config('app.tenant_id', ${tenantId}, true)`.execute(tx);
}

/** Deletes up to `limit` of the tenant's rows from `table`; resolves with how many it deleted. */
export async function deleteTenantRows(
  tx: SystemTx,
  dialect: DialectName,
  table: string,
  tenantId: string,
  limit: number,
): Promise<number> {
  const t = sql.table(table);
  const rowId = sql.raw(dialect === 'sqlite' ? 'rowid' : 'ctid');
  const result = await sql`delete from ${t} where ${rowId} in (
      select ${rowId} from ${t} where tenant_id = ${tenantId} limit ${limit})`.execute(tx);
  return Number(result.numAffectedRows ?? 0n);
}

/** Whether any row of the tenant is left in `table`. */
export async function hasTenantRows(tx: SystemTx, table: string, tenantId: string): Promise<boolean> {
  const { rows } =
    await sql`select 1 as one from ${sql.table(table)} where tenant_id = ${tenantId} limit 1`.execute(tx);
  return rows.length > 0;
}
