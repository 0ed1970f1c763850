/**
 * Regenerates the tables that tests keep equal to the code: the README configuration table, the error
 * catalogue in docs/errors.md, the permission matrix in docs/access-control.md and the data inventory in
 * docs/privacy.md, the metrics table in docs/monitoring.md. Run `npm run docs`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { builtInRoles, permissions } from '../packages/protocol/src/index.js';
import { builtInRolePermissions } from '../packages/server/src/access/roles.js';
import { configTableMarkdown } from '../packages/server/src/config.js';
import { dataInventoryMarkdown } from '../packages/server/src/compliance/gdpr/data-inventory-markdown.js';
import { evidenceControlsMarkdown } from '../packages/server/src/compliance/evidence-report/evidence-controls-markdown.js';
import { errorTableMarkdown } from '../packages/server/src/http/error-table.js';
import { metricsTableMarkdown } from '../packages/server/src/observability/metrics-table.js';

const root = path.resolve(import.meta.dirname, '..');

function replaceSection(file: string, marker: string, body: string): void {
  const full = path.join(root, file);
  const text = readFileSync(full, 'utf8');
  const pattern = new RegExp(`(<!-- ${marker}:start -->)[\\s\\S]*?(<!-- ${marker}:end -->)`);
  if (!pattern.test(text)) throw new Error(`${file} lacks the ${marker} markers`);
  writeFileSync(full, text.replace(pattern, `$1\n\n${body}\n\n$2`));
}

const matrix = [
  `| Permission | ${builtInRoles.join(' | ')} |`,
  `| --- |${builtInRoles.map(() => ' :-: |').join('')}`,
  ...permissions.map(
    (permission) =>
      `| \`${permission}\` | ${builtInRoles.map((role) => (builtInRolePermissions[role].includes(permission) ? 'yes' : '—')).join(' | ')} |`,
  ),
].join('\n');

replaceSection('README.md', 'config-table', configTableMarkdown());
replaceSection('docs/errors.md', 'error-table', errorTableMarkdown());
replaceSection('docs/access-control.md', 'permission-matrix', matrix);
replaceSection('docs/privacy.md', 'data-inventory', dataInventoryMarkdown());
replaceSection('docs/monitoring.md', 'metrics-table', metricsTableMarkdown());
replaceSection('docs/compliance.md', 'evidence-controls', evidenceControlsMarkdown());
