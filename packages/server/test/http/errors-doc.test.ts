import { readFileSync } from 'node:fs';
import path from 'node:path';
import { errorCatalogue } from '@parley/protocol';
import { expect, it } from 'vitest';

it('docs/errors.md lists exactly the catalogued error codes, with their statuses and messages', () => {
  const doc = readFileSync(path.resolve(import.meta.dirname, '../../../../docs/errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| `([a-z_]+)` +\| (\d{3}) +\| (.+?) +\|$/gm)].map(
    ([, code, status, message]) => ({
      code,
      status: Number(status),
      message,
    }),
  );
  const catalogued = Object.entries(errorCatalogue).map(([code, { status, message }]) => ({
    code,
    status,
    message,
  }));
  expect(documented).toEqual(catalogued);
});
