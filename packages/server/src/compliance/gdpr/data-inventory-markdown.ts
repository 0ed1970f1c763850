import { dataInventory, type PersonalColumn, retentionRules } from './data-inventory.ts';

const dialectLabel = { sqlite: 'SQLite only', postgres: 'PostgreSQL only' } as const;

const named = (name: string, dialect: keyof typeof dialectLabel | undefined) =>
  dialect === undefined ? `\`${name}\`` : `\`${name}\` (${dialectLabel[dialect]})`;

/**
 * The "Data inventory" section of docs/privacy.md, generated from `dataInventory` (`npm run docs`): the
 * retention rules, every personal column with its category, protection and retention, and the tables that
 * hold no personal data. A test keeps the committed section equal to this.
 */
export function dataInventoryMarkdown(): string {
  const rules = [
    '| Retention rule | What happens |',
    '| --- | --- |',
    ...Object.entries(retentionRules).map(([rule, text]) => `| \`${rule}\` | ${text} |`),
  ];
  const personal: string[] = [
    '| Table | Column | Category | Protection at rest | Retention |',
    '| --- | --- | --- | --- | --- |',
  ];
  const withoutPersonalData: string[] = [];
  for (const [table, declaration] of Object.entries(dataInventory)) {
    const columns = Object.entries(declaration.columns).filter(
      (entry): entry is [string, PersonalColumn] => entry[1].personal,
    );
    if (columns.length === 0) {
      withoutPersonalData.push(named(table, declaration.dialect));
      continue;
    }
    for (const [column, { category, protection, retention, dialect }] of columns) {
      const kept = retention ?? declaration.retention;
      if (kept === undefined)
        throw new Error(`${table}.${column} holds personal data but has no retention rule`);
      personal.push(
        `| ${named(table, declaration.dialect)} | ${named(column, dialect)} | ${[category].flat().join(', ')} | ${protection} | \`${kept}\` |`,
      );
    }
  }
  return [
    ...rules,
    '',
    ...personal,
    '',
    `Tables without personal data: ${withoutPersonalData.join(', ')}. Columns of the tables above that are not listed (tenant ids, sequence numbers, keys of other rows, wrapped keys) hold none either.`,
  ].join('\n');
}
