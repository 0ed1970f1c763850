import { CompiledQuery } from 'kysely';
import type { Storage } from '../../src/storage/database.ts';
import { observeTenantStatements, type RunInTransaction } from './statement-observer.ts';

/** Statements that read or write rows (not savepoints, not settings). */
export const isDataStatement = (text: string) => /^\s*(select|insert|update|delete|with)\b/i.test(text);

/**
 * The statement's text with its parameter lists collapsed, so the same statement with a different number of
 * ids (an IN list, a VALUES list) or different placeholders has the same key.
 */
export function statementKey(text: string): string {
  let key = text.replace(/\$\d+/g, '?').replace(/\s+/g, ' ').trim();
  for (;;) {
    const next = key.replace(/\?(?:, \?)+/g, '?').replace(/(\([^()]*\))(?:, \1)+/g, '$1');
    if (next === key) return key;
    key = next;
  }
}

/** A scan node of a PostgreSQL plan: what it read and how many rows it touched. */
export interface PostgresScan {
  node: string;
  rows: number;
}

/** What one statement touched on PostgreSQL, from `EXPLAIN ANALYZE` of the statement itself. */
export interface PostgresCost {
  /** Rows touched by every scan node: rows returned plus rows removed by filters or rechecks, times loops. */
  rows: number;
  scans: PostgresScan[];
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/** Scans of a table (not of a CTE, a function or a VALUES list): what grows with the stored data. */
const tableScans = new Set([
  'Seq Scan',
  'Index Scan',
  'Index Only Scan',
  'Bitmap Heap Scan',
  'Tid Scan',
  'Tid Range Scan',
  'Sample Scan',
]);

function collectScans(node: PlanNode, scans: PostgresScan[]): void {
  if (tableScans.has(node['Node Type'])) {
    // EXPLAIN shows rows and removed rows per loop.
    const perLoop =
      (node['Actual Rows'] ?? 0) +
      (node['Rows Removed by Filter'] ?? 0) +
      (node['Rows Removed by Index Recheck'] ?? 0);
    const index = node['Index Name'] === undefined ? '' : ` using ${node['Index Name']}`;
    scans.push({
      node: `${node['Node Type']} on ${node['Relation Name'] ?? '?'}${index}`,
      rows: perLoop * (node['Actual Loops'] ?? 1),
    });
  }
  for (const child of node.Plans ?? []) collectScans(child, scans);
}

/**
 * Runs the statement under `EXPLAIN (ANALYZE, FORMAT JSON)` inside a savepoint that is then rolled back, in
 * the transaction that is about to run it for real: same tenant, same role (row-level security applies),
 * same data, writes included. Undefined when the statement fails (it will fail for real too).
 */
export async function postgresCost(
  statement: CompiledQuery,
  run: RunInTransaction,
): Promise<PostgresCost | undefined> {
  await run(CompiledQuery.raw('savepoint statement_cost'));
  try {
    // A test's tables are small enough that reading one whole (or all of a tenant's rows, to hash-join
    // them) is the cheapest plan; at the sizes that matter it is not. Planned as for large tables: rows are
    // reached through index lookups, and a table is read whole only when no index can serve.
    for (const setting of ['enable_seqscan', 'enable_hashjoin', 'enable_mergejoin'])
      await run(CompiledQuery.raw(`set local ${setting} = off`));
    const { rows } = await run(
      CompiledQuery.raw(`explain (analyze, format json) ${statement.sql}`, [...statement.parameters]),
    );
    const [row] = rows as { 'QUERY PLAN': { Plan: PlanNode }[] }[];
    const plan = row?.['QUERY PLAN'][0]?.Plan;
    if (!plan) return undefined;
    const scans: PostgresScan[] = [];
    collectScans(plan, scans);
    return { rows: scans.reduce((sum, scan) => sum + scan.rows, 0), scans };
  } catch {
    return undefined;
  } finally {
    await run(CompiledQuery.raw('rollback to savepoint statement_cost'));
    await run(CompiledQuery.raw('release savepoint statement_cost'));
  }
}

/** One line of SQLite's `EXPLAIN QUERY PLAN`. */
export interface PlanLine {
  id: number;
  parent: number;
  detail: string;
}

export async function sqlitePlan(statement: CompiledQuery, run: RunInTransaction): Promise<PlanLine[]> {
  const { rows } = await run(
    CompiledQuery.raw(`explain query plan ${statement.sql}`, [...statement.parameters]),
  );
  return rows as PlanLine[];
}

/**
 * Per table that grows with history (messages and what hangs off them, and the tenant's dialogs): the column
 * sets whose equality bounds what a search of it reads, whatever the history. The last column of a key may be
 * a range instead (`dialog_id = ? AND seq > ?`: a stretch of one dialog's stream), see `sqlitePlanProblems`.
 * Not bounding: `tenant_id` alone (the whole tenant's history), nor with a sender or a user (everything
 * they ever sent or hid), nor `dialog_id` alone on messages (the whole dialog's history).
 */
export const boundingKeys: Readonly<Record<string, readonly (readonly string[])[]>> = {
  // A stretch of a dialog by seq, or by time (jump to a date: the first message at or after a moment).
  messages: [
    ['id'],
    ['tenant_id', 'sender_id', 'client_id'],
    ['dialog_id', 'seq'],
    ['dialog_id', 'created_at'],
  ],
  dialog_events: [['dialog_id', 'seq']],
  message_reactions: [['message_id']],
  hidden_messages: [['message_id']],
  attachment_shares: [['message_id'], ['attachment_id']],
  attachments: [['id']],
  message_search: [['rowid'], ['message_id']],
  // A dialog's members (the size of a group), or one user's memberships (what the dialogs list pages over).
  dialog_members: [['dialog_id'], ['tenant_id', 'user_id']],
  dialogs: [['id'], ['tenant_id', 'pair_key']],
};

const keywords = new Set([
  'as',
  'where',
  'on',
  'inner',
  'left',
  'cross',
  'join',
  'set',
  'order',
  'group',
  'limit',
  'values',
  'select',
  'using',
  'natural',
  'returning',
  'union',
  'default',
  'set',
]);

/** Table names by the name SQLite's plan shows (the alias when there is one). */
function tablesByName(text: string): Map<string, string> {
  const names = new Map<string, string>();
  const pattern =
    /\b(?:from|join|update|into)\s+"?([a-z_][a-z0-9_]*)"?(?:\s+(?:as\s+)?"?([a-z_][a-z0-9_]*)"?)?/gi;
  for (const match of text.matchAll(pattern)) {
    const table = (match[1] ?? '').toLowerCase();
    names.set(table, table);
    const alias = match[2]?.toLowerCase();
    if (alias !== undefined && !keywords.has(alias)) names.set(alias, table);
  }
  return names;
}

/** The constrained columns of a SEARCH line: `(dialog_id=? AND seq>?)` → equalities and ranges. */
function constraintsOf(detail: string): { equal: Set<string>; range: Set<string> } {
  const equal = new Set<string>();
  const range = new Set<string>();
  const inside = /\(([^()]*)\)\s*$/.exec(detail)?.[1] ?? '';
  for (const term of inside.split(' AND ')) {
    // `ANY(tenant_id)`: a skip-scan over that column's values, which constrains nothing.
    if (term.trim().startsWith('ANY(')) continue;
    const column = /^(\w+)/.exec(term.trim())?.[1];
    if (column === undefined) continue;
    if (/^\w+=/.test(term.trim())) equal.add(column);
    else range.add(column);
  }
  return { equal, range };
}

/** FTS5's index number has this bit when it returns rows in row-id order (`FTS5_BI_ORDER_ROWID`, fts5_main.c). */
const FTS5_ORDER_ROWID = 0x40;

/**
 * A full-text match reads the entries of the words searched for as its consumer asks for rows, but only when
 * FTS5 returns them in row-id order; otherwise (ranked, or in no stated order) it reads every entry of those
 * words first, as many as history holds. In order, a LIMIT stops it, unless a sort (a temp B-tree) waits for
 * every row before the first comes out.
 */
function fullTextWalkProblems(text: string, plan: readonly PlanLine[], line: PlanLine): string[] {
  const indexNumber = Number(/VIRTUAL TABLE INDEX (\d+):/.exec(line.detail)?.[1] ?? 0);
  if ((indexNumber & FTS5_ORDER_ROWID) === 0)
    return [`reads every entry of the words searched for (not in row-id order): ${line.detail}`];
  if (!/\blimit\b/i.test(text) || plan.some((other) => other.detail.startsWith('USE TEMP B-TREE')))
    return [`walks every entry of the words searched for (no LIMIT can stop it): ${line.detail}`];
  return [];
}

/**
 * What breaks the rule in a SQLite plan, one line per problem (empty: the plan is bounded). The rule: every
 * access to a table of `boundingKeys` is a SEARCH (never a SCAN of the table or of a whole index, never an
 * automatic index, which is built by scanning) whose constraint covers one of its bounding keys with
 * equalities, the last column possibly a range. A range is bounded only by the statement's LIMIT, which stops
 * the index walk only when nothing needs the whole range first: so the statement has a LIMIT and no window
 * function, and no temp B-tree sorts at the same level as that search (a sort reads everything before the
 * first row comes out). A full-text match must be walked in row-id order and stopped by a LIMIT
 * (`fullTextWalkProblems`).
 */
export function sqlitePlanProblems(text: string, plan: readonly PlanLine[]): string[] {
  const names = tablesByName(text);
  const problems: string[] = [];
  for (const line of plan) {
    const match = /^(SCAN|SEARCH) (\S+)/.exec(line.detail);
    if (!match) continue;
    const table = names.get((match[2] ?? '').toLowerCase()) ?? match[2] ?? '';
    if (line.detail.includes('VIRTUAL TABLE') && /\bmatch\b/i.test(text)) {
      problems.push(...fullTextWalkProblems(text, plan, line));
      continue;
    }
    const keys = boundingKeys[table];
    if (keys === undefined) continue;
    if (match[1] === 'SCAN' || line.detail.includes('AUTOMATIC')) {
      problems.push(`reads all of ${table}: ${line.detail}`);
      continue;
    }
    const { equal, range } = constraintsOf(line.detail);
    const covering = keys.find((key) =>
      key.every(
        (column, position) => equal.has(column) || (position === key.length - 1 && range.has(column)),
      ),
    );
    if (!covering) {
      problems.push(`searches ${table} by a key that history grows: ${line.detail}`);
      continue;
    }
    const last = covering.at(-1) ?? '';
    if (equal.has(last)) continue;
    const sorted = plan.some(
      (other) => other.parent === line.parent && other.detail.startsWith('USE TEMP B-TREE'),
    );
    if (!/\blimit\b/i.test(text) || /\bover\s*\(/i.test(text) || sorted)
      problems.push(`reads a whole ${last} range of ${table} (no LIMIT can stop it): ${line.detail}`);
  }
  return problems;
}

/** One statement of an operation, measured just before it ran. */
export interface MeasuredStatement {
  operation: string;
  /** The statement's key and its occurrence within the operation: the same at every size. */
  key: string;
  sql: string;
  /** PostgreSQL: what it touched. */
  cost?: PostgresCost | undefined;
  /** SQLite: what breaks the plan rule (empty when nothing does). */
  problems: string[];
}

/**
 * Runs the operations one after the other with every statement of their tenant transactions measured in
 * place: its rows touched on PostgreSQL, its plan's problems on SQLite.
 */
export async function measureOperations(
  storage: Storage,
  operations: readonly { name: string; run: () => Promise<unknown> }[],
): Promise<MeasuredStatement[]> {
  const results: MeasuredStatement[] = [];
  let operation = '';
  const seen = new Map<string, number>();
  const observer = observeTenantStatements(storage, async (statement, run) => {
    if (!isDataStatement(statement.sql)) return;
    const key = `${operation} | ${statementKey(statement.sql)}`;
    const occurrence = (seen.get(key) ?? 0) + 1;
    seen.set(key, occurrence);
    const entry: MeasuredStatement = {
      operation,
      key: `${key} #${occurrence}`,
      sql: statement.sql,
      problems: [],
    };
    if (storage.dialect === 'postgres') entry.cost = await postgresCost(statement, run);
    else entry.problems = sqlitePlanProblems(statement.sql, await sqlitePlan(statement, run));
    results.push(entry);
  });
  try {
    for (const { name, run } of operations) {
      operation = name;
      await run();
    }
  } finally {
    observer.restore();
  }
  return results;
}
