import { expect, it } from 'vitest';
import { erasureCoverage } from '../../../src/compliance/gdpr/erasure-coverage.ts';
import { dataInventory } from '../../../src/compliance/gdpr/data-inventory.ts';

/**
 * Erasure reaches every personal column (GDPR Art. 17): the data inventory (every column of the schema, the
 * ones holding personal data marked) and the erasure coverage (what erasure does to each) name the same
 * personal columns, so a personal column added to the schema fails here until erasure says what it does with
 * it. erasure.test.ts checks the treatments on an erased account's rows, on both dialects.
 */
it('gives every personal column of the data inventory an erasure treatment, and no other column one', () => {
  const personal = Object.entries(dataInventory).flatMap(([table, declaration]) =>
    Object.entries(declaration.columns)
      .filter(([, column]) => column.personal)
      .map(([column]) => `${table}.${column}`),
  );
  const covered = Object.entries(erasureCoverage).flatMap(([table, erasure]) =>
    Object.keys(erasure.columns).map((column) => `${table}.${column}`),
  );
  expect(covered.filter((column) => !personal.includes(column))).toEqual([]);
  expect(personal.filter((column) => !covered.includes(column))).toEqual([]);
});

it('names, for each table it checks by owner, a column the inventory declares', () => {
  for (const [table, erasure] of Object.entries(erasureCoverage)) {
    if (erasure.owner === undefined) continue;
    expect(Object.keys(dataInventory[table]?.columns ?? {}), table).toContain(erasure.owner);
  }
});
