import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { controlDefinitions, evidenceControlsMarkdown } from '../../src/compliance/evidence-report/index.ts';

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

it('docs/compliance.md shows exactly the generated control table', () => {
  const doc = readFileSync(path.resolve(import.meta.dirname, '../../../../docs/compliance.md'), 'utf8');
  const section = /<!-- evidence-controls:start -->([\s\S]*?)<!-- evidence-controls:end -->/.exec(doc)?.[1];
  expect(section, 'docs/compliance.md lacks the evidence-controls markers').toBeDefined();
  expect(normalised(section ?? '')).toEqual(normalised(evidenceControlsMarkdown()));
});

it('maps every GDPR article and both HIPAA safeguard sections the report promises to cover', () => {
  const articles = new Set(
    controlDefinitions.flatMap((control) => control.gdpr.map((item) => /^Art\. (\d+)/.exec(item)?.[1])),
  );
  for (const article of [5, 7, 15, 16, 17, 18, 19, 20, 21, 25, 28, 30, 32, 33, 34])
    expect(articles, `GDPR Art. ${article}`).toContain(String(article));
  const hipaa = controlDefinitions.flatMap((control) => control.hipaa);
  expect(hipaa.some((item) => item.startsWith('§164.308'))).toBe(true);
  expect(hipaa.some((item) => item.startsWith('§164.312'))).toBe(true);
  expect(new Set(controlDefinitions.map((control) => control.id)).size).toBe(controlDefinitions.length);
});
