import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

/**
 * axe-core (Deque's accessibility rules) run inside a real page: `seriousAxeViolations(page)` answers the
 * violations of impact "serious" or "critical" (WCAG 2.x A and AA rules and best practices), each with the
 * selectors of the offending nodes, so a test can `expect(...).toEqual([])` and print what failed.
 *
 * The engine is evaluated through the DevTools protocol, which the page's CSP does not govern: the console's
 * `script-src 'self'` stays in force for the page's own scripts (no `bypassCSP` context is needed).
 */

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** One violation as a test reports it: the rule, its impact and where it fired. */
export interface AxeFinding {
  rule: string;
  impact: string;
  help: string;
  nodes: string[];
}

interface AxeResult {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * Runs axe on the page as it is now (inject once per document; a later call in the same document reuses it).
 * `exclude` lists selectors to leave out (e.g. a third-party widget); keep it empty for the console.
 */
export async function seriousAxeViolations(page: Page, exclude: string[] = []): Promise<AxeFinding[]> {
  const loaded = await page.evaluate('typeof window.axe === "object"');
  if (loaded !== true) await page.evaluate(AXE_SOURCE);
  const context = JSON.stringify({ exclude: exclude.map((selector) => [selector]) });
  const violations = await page.evaluate<AxeResult[]>(`
    window.axe
      .run(${exclude.length > 0 ? context : 'document'}, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
        resultTypes: ['violations'],
      })
      .then((result) => result.violations)
  `);
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => ({
      rule: violation.id,
      impact: violation.impact ?? '',
      help: violation.help,
      nodes: violation.nodes.map((node) => node.target.map(String).join(' ')),
    }));
}
