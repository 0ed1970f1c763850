import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dataInventory, declaredSchema } from '../../../src/compliance/gdpr/data-inventory.ts';
import { dataInventoryMarkdown } from '../../../src/compliance/gdpr/data-inventory-markdown.ts';
import type { Storage } from '../../../src/storage/database.ts';
import { describeEachDialect } from '../../support/dialects.ts';
import { openTestStorage, type TestStorage } from '../../support/test-storage.ts';

/** Every table of the migrated schema with its columns, sorted; SQLite's own `sqlite_*` tables left out. */
async function liveSchema(storage: Storage, schema: string | undefined): Promise<Map<string, string[]>> {
  const columns =
    storage.dialect === 'sqlite'
      ? await sql<{ table_name: string; column_name: string }>`
          select m.name as table_name, c.name as column_name
          from sqlite_schema m join pragma_table_info(m.name) c
          where m.type = 'table' and m.name not like 'sqlite\\_%' escape '\\'`.execute(storage.kysely)
      : await sql<{ table_name: string; column_name: string }>`
          select table_name, column_name from information_schema.columns
          where table_schema = ${schema ?? 'public'}`.execute(storage.kysely);
  const live = new Map<string, string[]>();
  for (const { table_name, column_name } of columns.rows)
    live.set(table_name, [...(live.get(table_name) ?? []), column_name]);
  for (const names of live.values()) names.sort();
  return live;
}

/** `table.column` entries in one schema and not the other. */
function differences(live: Map<string, string[]>, declared: Map<string, string[]>) {
  const entries = (schema: Map<string, string[]>) =>
    new Set([...schema].flatMap(([table, names]) => [table, ...names.map((name) => `${table}.${name}`)]));
  const [have, want] = [entries(live), entries(declared)];
  return {
    undeclared: [...have].filter((entry) => !want.has(entry)).sort(),
    declaredButMissing: [...want].filter((entry) => !have.has(entry)).sort(),
  };
}

describeEachDialect('data inventory (GDPR Art. 30)', (dialect) => {
  let t: TestStorage;

  beforeAll(async () => {
    t = await openTestStorage(dialect);
  });

  afterAll(async () => {
    await t.close();
  });

  it('declares every table and column of the migrated schema, and nothing that is not there', async () => {
    const live = await liveSchema(t.storage, t.database.schema);
    expect(live.size).toBeGreaterThan(30);
    expect(differences(live, declaredSchema(dialect))).toEqual({ undeclared: [], declaredButMissing: [] });
  });

  it('finds a column added without a declaration', async () => {
    await sql`alter table users add column nickname text`.execute(t.storage.kysely);
    try {
      const live = await liveSchema(t.storage, t.database.schema);
      expect(differences(live, declaredSchema(dialect)).undeclared).toEqual(['users.nickname']);
    } finally {
      await sql`alter table users drop column nickname`.execute(t.storage.kysely);
    }
  });
});

it('gives every personal column a retention rule, and every encrypted one a key', () => {
  for (const [table, declaration] of Object.entries(dataInventory)) {
    for (const [name, column] of Object.entries(declaration.columns)) {
      if (!column.personal) continue;
      expect(column.retention ?? declaration.retention, `${table}.${name}`).toBeDefined();
    }
  }
  // The fields the security design says are sealed per user really are declared so.
  for (const name of ['display_name', 'email', 'phone', 'profile', 'totp_secret'])
    expect(dataInventory.users?.columns[name]).toMatchObject({ protection: 'user field key' });
});

/** Table rows cell by cell (Prettier pads tables), every other line as it is. */
const normalised = (markdown: string) =>
  markdown
    .trim()
    .split('\n')
    .map((line) =>
      line.startsWith('|')
        ? line
            .split('|')
            .map((cell) => cell.trim().replace(/^:?-+:?$/, '---'))
            .join('|')
        : line.trim(),
    );

it('docs/privacy.md shows exactly the generated data inventory', () => {
  const doc = readFileSync(path.resolve(import.meta.dirname, '../../../../../docs/privacy.md'), 'utf8');
  const section = /<!-- data-inventory:start -->([\s\S]*?)<!-- data-inventory:end -->/.exec(doc)?.[1];
  expect(section, 'docs/privacy.md lacks the data-inventory markers').toBeDefined();
  expect(normalised(section ?? '')).toEqual(normalised(dataInventoryMarkdown()));
});
