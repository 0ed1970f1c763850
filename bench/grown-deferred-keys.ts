import type pg from 'pg';

/**
 * Keys that growing builds once at the end instead of row by row (PostgreSQL only). The search terms table
 * takes a few dozen rows per message, keyed by (tenant, token, message): each insert lands at a random place
 * in an index far larger than shared_buffers (and, before migration 0026, each row's foreign-key check
 * locked its message). Measured with
 * the server's own insert of 500 messages' terms into a table of 1.3 million: 1,340 ms with these keys,
 * 210 ms without (a plain COPY of 2.7 million term rows: 2.4 s into the bare table, 69 s with its keys; the
 * difference grows with the index). So while growing, the table has no primary key (an index by message stands in for the
 * deletions, see below); afterwards the keys are added back
 * under the same names and definitions (checked), so the schema the server sees is the one its migrations
 * made. The index is then built sorted, as `REINDEX` would leave it, not split page by page as months of
 * sends leave it. (Unlogged while growing saved another sixth of the inserts but cost more in the rewrite
 * back to logged: 87 s for 8 million rows.)
 */
const DEFERRED_TABLES = ['message_search_terms'];

interface Constraint {
  table: string;
  name: string;
  definition: string;
}

async function constraintsOf(client: pg.Client, schema: string): Promise<Constraint[]> {
  const { rows } = await client.query<Constraint>(
    `select t.relname as table, c.conname as name, pg_get_constraintdef(c.oid) as definition
     from pg_constraint c
     join pg_class t on t.oid = c.conrelid
     join pg_namespace n on n.oid = t.relnamespace
     where n.nspname = $1 and t.relname = any($2) and c.contype in ('p', 'f')
     order by t.relname, c.contype desc, c.conname`,
    [schema, DEFERRED_TABLES],
  );
  return rows;
}

const quoted = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

/**
 * Drops the deferred keys in `schema` and resolves with the function that adds them back (primary keys
 * first, so foreign keys are checked against complete tables) and checks they are exactly as before.
 */
export async function deferKeys(client: pg.Client, schema: string): Promise<() => Promise<void>> {
  const before = await constraintsOf(client, schema);
  const table = (name: string) => `${quoted(schema)}.${quoted(name)}`;
  for (const { table: name, name: constraint } of [...before].reverse())
    await client.query(`alter table ${table(name)} drop constraint ${quoted(constraint)}`);
  // The grower deletes messages as users do; their term rows leave by a trigger that looks them up by
  // message (migration 0026). Without the primary key that lookup would scan the table, so a plain index by
  // message stands in while growing (new message ids only append to it) and is dropped afterwards.
  const standIn = quoted(`${DEFERRED_TABLES[0]}_growing`);
  await client.query(`create index ${standIn} on ${table(DEFERRED_TABLES[0] ?? '')} (message_id)`);
  return async () => {
    await client.query(`drop index ${quoted(schema)}.${standIn}`);
    // Room to sort the largest key in memory, for this session only.
    await client.query(`set maintenance_work_mem = '1GB'`);
    for (const { table: name, name: constraint, definition } of before)
      await client.query(`alter table ${table(name)} add constraint ${quoted(constraint)} ${definition}`);
    const after = await constraintsOf(client, schema);
    if (JSON.stringify(after) !== JSON.stringify(before))
      throw new Error(`deferred keys differ after growing: ${JSON.stringify({ before, after })}`);
  };
}
