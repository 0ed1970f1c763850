import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { DialectName } from '../../src/storage/dialects/dialect-adapter.ts';
import { chromiumMissing, launchChromium } from './browser-sdk.ts';
import { buildConsole } from './console-build.ts';
import { dialectNames } from './dialects.ts';

/**
 * A console test file in Chromium: the console built once (`buildConsole`), one browser for the file, and
 * `suite` declared once per dialect, each opening its pages with `newPage`. Without Chromium the file is
 * skipped with a printed reason (and fails under CI=true, `chromiumMissing`).
 */
export function describeConsoleInChromium(
  suiteName: string,
  title: string,
  suite: (dialect: DialectName, newPage: () => Promise<Page>) => void,
): void {
  const skip = chromiumMissing(suiteName);
  let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
  const newPage = () => {
    if (!chromium) throw new Error('Chromium is not running');
    return chromium.browser.newPage();
  };
  describe.skipIf(skip !== undefined)(title, () => {
    beforeAll(async () => {
      buildConsole();
      chromium = await launchChromium();
    });
    afterAll(async () => {
      await chromium?.close();
    });
    for (const dialect of dialectNames)
      describe(dialect, () => {
        suite(dialect, newPage);
      });
  });
}

/** Nothing script-like that a user wrote ran in the page, and no element came from it. */
export async function expectNoScriptRan(page: Page): Promise<void> {
  expect(await page.evaluate('typeof window.__xss')).toBe('undefined');
  expect(await page.locator('main img, main script').count()).toBe(0);
}
