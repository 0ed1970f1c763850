import { readFileSync } from 'node:fs';
import path from 'node:path';
import { builtInRoles, permissions } from '@parley/protocol';
import { expect, it } from 'vitest';
import { builtInRolePermissions } from '../../src/access/roles.ts';

it('docs/access-control.md shows exactly the built-in permission matrix', () => {
  const doc = readFileSync(path.resolve(import.meta.dirname, '../../../../docs/access-control.md'), 'utf8');
  const section =
    /<!-- permission-matrix:start -->([\s\S]*?)<!-- permission-matrix:end -->/.exec(doc)?.[1] ?? '';
  const rows = section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  const documented = Object.fromEntries(
    rows.map(([permission, ...cells]) => [permission?.replaceAll('`', ''), cells]),
  );
  const expected = Object.fromEntries(
    permissions.map((permission) => [
      permission,
      builtInRoles.map((role) => (builtInRolePermissions[role].includes(permission) ? 'yes' : '—')),
    ]),
  );
  expect(documented).toEqual(expected);
});

it('owners hold every permission; guests and members administer nothing', () => {
  expect([...builtInRolePermissions.owner].sort()).toEqual([...permissions].sort());
  const administrative = [
    'users.manage',
    'roles.manage',
    'tenant.manage',
    'clients.manage',
    'mfa.reset',
    'audit.read',
  ];
  for (const role of ['guest', 'member'] as const) {
    expect(builtInRolePermissions[role].filter((permission) => administrative.includes(permission))).toEqual(
      [],
    );
  }
});
