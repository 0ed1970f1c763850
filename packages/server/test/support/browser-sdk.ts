import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { type BrowserContext, chromium } from 'playwright-core';
import type { RouteDeclaration } from '../../src/http/route-table.ts';

/**
 * The client SDK in Debian's Chromium (as test/system/realtime-sdk-browser.test.ts runs it): an IIFE bundle
 * served same-origin by the test server under a strict CSP, next to a page script that drives it.
 */

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Why the browser suites cannot run here (undefined when they can). With CI=true a missing browser throws:
 * a skipped suite there would hide a regression. Outside CI the reason is printed once per suite.
 */
export function chromiumMissing(suite: string): string | undefined {
  const missing = existsSync(CHROMIUM)
    ? undefined
    : `${CHROMIUM} not found (install it with: apt-get install -y chromium)`;
  if (missing && process.env.CI === 'true')
    throw new Error(`CI=true and the ${suite} suite cannot run: ${missing}`);
  if (missing) process.stdout.write(`SKIPPING the ${suite} suite: ${missing}\n`);
  return missing;
}

const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');
const CLIENT_ENTRY = path.join(REPO_ROOT, 'packages/client/src/index.ts');

/** The SDK as one IIFE exposing `window.Parley`, and the files it was built from. */
export async function bundleSdk(): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    entryPoints: [CLIENT_ENTRY],
    absWorkingDir: REPO_ROOT,
    bundle: true,
    format: 'iife',
    globalName: 'Parley',
    platform: 'browser',
    target: 'es2022',
    conditions: ['source'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return { code: result.outputFiles[0]?.text ?? '', inputs: Object.keys(result.metafile.inputs) };
}

/**
 * Same-origin routes: `/test/sdk-page` loading the SDK and `pageScript` (plain JavaScript: functions handed to
 * `page.evaluate` would be serialized after the test runner's transform). Scripts and connections only from
 * this origin, as a real app's CSP would.
 */
export function sdkPageRoutes(sdk: string, pageScript: string): RouteDeclaration[] {
  const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>Parley SDK</title>
<script src="/test/parley-sdk.js"></script><script src="/test/page.js"></script>
</head><body>Parley SDK test page</body></html>`;
  const access = { kind: 'public' } as const;
  const csp = "default-src 'none'; script-src 'self'; connect-src 'self'";
  const serve = (url: string, type: string, body: string): RouteDeclaration => ({
    method: 'GET',
    url,
    operationId: `getTestAsset${url.replace(/\W/g, '')}`,
    summary: 'Browser SDK test asset',
    tags: ['test'],
    access,
    produces: type,
    handler: async (_request, reply) => reply.type(type).header('content-security-policy', csp).send(body),
  });
  return [
    serve('/test/sdk-page', 'text/html; charset=utf-8', page),
    serve('/test/parley-sdk.js', 'text/javascript; charset=utf-8', sdk),
    serve('/test/page.js', 'text/javascript; charset=utf-8', pageScript),
  ];
}

/** A headless Chromium with its own profile; `close()` also removes the profile. */
export async function launchChromium(
  extraArgs: readonly string[] = [],
): Promise<{ browser: BrowserContext; close: () => Promise<void> }> {
  const profileDir = mkdtempSync(path.join(os.tmpdir(), 'parley-chromium-'));
  const browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--ignore-certificate-errors',
      ...extraArgs,
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profileDir, { recursive: true, force: true });
    },
  };
}
