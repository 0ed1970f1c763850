import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../support/browser-sdk.ts';
import { newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * A browser app on another origin calls the API as a real browser does: Chromium loads a page from a plain
 * HTTP server on 127.0.0.2 (another host and port than the API on 127.0.0.1) and `fetch`es the API with a
 * bearer token. From the listed origin the preflight passes and the app reads answers, errors and exposed
 * headers, and the preflight is cached; from an origin that is not listed the browser blocks the call, and a
 * request that needs a preflight never reaches the API. Outside CI a missing Chromium skips the suite; with
 * CI=true it fails.
 */

const chromiumSkip = chromiumMissing('CORS browser');

/** Plain JavaScript run in the page: each call reports what the app could see, or the error it got. */
const PAGE_SCRIPT = `
window.api = async (url, init) => {
  try {
    const response = await fetch(url, init);
    return {
      status: response.status,
      requestId: response.headers.get('x-request-id'),
      body: await response.text(),
    };
  } catch (error) {
    return { failed: String(error) };
  }
};
`;

/** A page server on 127.0.0.2: its origin is what the browser sends in `Origin`. */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><html><head><meta charset="utf-8"><title>App</title>
<script>${PAGE_SCRIPT}</script></head><body>A browser app on another origin</body></html>`);
  });
  server.listen(0, '127.0.0.2');
  await once(server, 'listening');
  return { server, origin: `http://127.0.0.2:${(server.address() as AddressInfo).port}` };
}

interface ApiResult {
  status?: number;
  requestId?: string | null;
  body?: string;
  failed?: string;
}

/** Runs `window.api(url, init)` in the page (a string, as the other browser suites do: no DOM types here). */
function callFrom(page: Page, url: string, init: Record<string, unknown>): Promise<ApiResult> {
  return page.evaluate<ApiResult>(`window.api(${JSON.stringify(url)}, ${JSON.stringify(init)})`);
}

describe.skipIf(chromiumSkip !== undefined)('a browser app on another origin (Chromium)', () => {
  let listed: { server: Server; origin: string };
  let unlisted: { server: Server; origin: string };
  let api: TestServer;
  let owner: SignedIn;
  let browser: BrowserContext;
  let closeBrowser: () => Promise<void>;

  /** How many requests of `method` to `url` the API has logged. */
  const logged = (method: string, url: string) =>
    api.logs
      .entries()
      .filter((entry) => entry.msg === 'incoming request')
      .filter((entry) => {
        const req = entry.req as { method?: string; url?: string };
        return req.method === method && req.url === url;
      }).length;

  beforeAll(async () => {
    listed = await pageServer();
    unlisted = await pageServer();
    api = await startTestServer({ env: { PARLEY_CORS_ORIGINS: listed.origin } });
    owner = await newTenantOwner(api);
    ({ browser, close: closeBrowser } = await launchChromium());
  });

  afterAll(async () => {
    await closeBrowser();
    await api.close();
    listed.server.close();
    unlisted.server.close();
  });

  it('lets the listed origin call the API with a bearer token and a JSON body, and caches the preflight', async () => {
    const page = await browser.newPage();
    await page.goto(`${listed.origin}/`);
    const bearer = { authorization: `Bearer ${owner.accessToken}` };

    const me = await callFrom(page, `${api.url}/v1/me`, { headers: bearer });
    expect(me.failed).toBeUndefined();
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body ?? '{}')).toMatchObject({ id: owner.userId });
    // X-Request-Id is exposed: the app can quote it in a bug report.
    expect(me.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(logged('OPTIONS', '/v1/me')).toBe(1);

    const create = (name: string) =>
      callFrom(page, `${api.url}/v1/dialogs`, {
        method: 'POST',
        headers: { ...bearer, 'content-type': 'application/json', 'x-request-id': `app-${name}` },
        body: JSON.stringify({ type: 'group', name, memberIds: [] }),
      });
    const first = await create('first');
    expect(first.failed).toBeUndefined();
    expect(first.status).toBe(201);
    expect(first.requestId).toBe('app-first');
    const second = await create('second');
    expect(second.status).toBe(201);
    // One preflight for both POSTs: the browser cached it for PARLEY_CORS_MAX_AGE.
    expect(logged('OPTIONS', '/v1/dialogs')).toBe(1);
    expect(logged('POST', '/v1/dialogs')).toBe(2);

    // Errors are readable too, in our shape.
    const refused = await callFrom(page, `${api.url}/v1/me`, {
      headers: { authorization: 'Bearer parley_at_not-a-real-token-0000000000' },
    });
    expect(refused.status).toBe(401);
    const error = JSON.parse(refused.body ?? '{}') as { error: { code: string; requestId: string } };
    expect(error.error.code).toBe('invalid_token');
    expect(error.error.requestId).toBe(refused.requestId);
    await page.close();
  });

  it('blocks an origin that is not listed: the answer is withheld, and a preflighted call never reaches the API', async () => {
    const page = await browser.newPage();
    await page.goto(`${unlisted.origin}/`);
    const dialogsBefore = logged('POST', '/v1/dialogs');
    const preflightsBefore = logged('OPTIONS', '/v1/dialogs');

    const post = await callFrom(page, `${api.url}/v1/dialogs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'group', name: 'from elsewhere', memberIds: [] }),
    });
    expect(post.failed).toMatch(/TypeError: Failed to fetch/);
    expect(logged('OPTIONS', '/v1/dialogs')).toBe(preflightsBefore + 1);
    expect(logged('POST', '/v1/dialogs')).toBe(dialogsBefore);

    // A simple request (no preflight) reaches the server, but the browser hides the answer from the page.
    const simple = await callFrom(page, `${api.url}/livez`, {});
    expect(simple.failed).toMatch(/TypeError: Failed to fetch/);
    await page.close();
  });
});
