import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, chromiumMissing } from '../../server/test/support/browser-sdk.js';
import { ownerPassword } from '../../server/test/support/identity-fixtures.js';
import { Inbox, newChatTenant, signedInSdk } from '../../server/test/support/sdk-clients.js';
import { startTestServer, type TestServer } from '../../server/test/support/start-server.js';
import {
  APP_DIR,
  APP_FILES,
  childEnv,
  createScratchApp,
  REPO_ROOT,
  run,
  runOk,
  type ScratchApp,
  startVitePreview,
  viteArgs,
} from './support/packed-sdk.ts';

/**
 * The SDK as an app outside this repository gets it: `npm pack` builds and packs @parley/protocol and
 * @parley/client, a new project installs the two tarballs, and then plain Node (no TypeScript loader, no
 * workspace links) and a Vite browser bundle sign in and exchange realtime messages with a real server that
 * presents its self-signed development certificate. Trust comes only from the documented setting
 * (NODE_EXTRA_CA_CERTS); without it the connection is refused, so verification was never switched off.
 * Uses Debian's Chromium for the browser part; outside CI a missing browser skips that part, with CI=true it
 * fails.
 */

const chromiumSkip = chromiumMissing('packaged SDK browser');

/** A TypeScript consumer: the error it expects is only there when the protocol's types resolve. */
const TYPES_CHECK = `import { ParleyClient } from '@parley/client';
const client = new ParleyClient({ baseUrl: 'https://localhost:8443' });
client.realtime.on('message.new', (frame) => {
  // @ts-expect-error a body is string | null
  const body: number = frame.message.body;
  return body;
});
`;

describe('the SDK packed by npm and installed into an app outside the repository', () => {
  let app: ScratchApp;
  let server: TestServer;
  let certFile: string;
  const cleanUp: (() => unknown)[] = [];

  beforeAll(async () => {
    // Side by side; whichever started is cleaned up even when the other failed.
    const [packed, started] = await Promise.allSettled([createScratchApp(), startTestServer()]);
    if (packed.status === 'fulfilled')
      cleanUp.push(() => {
        packed.value.remove();
      });
    if (started.status === 'fulfilled') cleanUp.push(() => started.value.close());
    if (packed.status === 'rejected') throw packed.reason;
    if (started.status === 'rejected') throw started.reason;
    app = packed.value;
    server = started.value;
    if (!server.app.tls) throw new Error('the test server must serve its self-signed certificate');
    certFile = server.app.tls.certFile;
  });

  afterAll(async () => {
    for (const step of cleanUp) await step();
  });

  it('packs compiled ESM with type declarations, installs from the two tarballs alone and loads in plain Node', async () => {
    expect(app.packed.map((item) => item.name)).toEqual(['@parley/protocol', '@parley/client']);
    for (const item of app.packed) {
      const files = item.files.map((file) => file.path);
      expect(files).toEqual(
        expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts', 'src/index.ts']),
      );
      expect(files.filter((file) => /tsbuildinfo|(^|\/)test\//.test(file))).toEqual([]);
    }

    const loaded = await runOk(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const sdk = await import('@parley/client');
         console.log(JSON.stringify({
           client: import.meta.resolve('@parley/client'),
           protocol: import.meta.resolve('@parley/protocol'),
           ParleyClient: typeof sdk.ParleyClient,
         }));`,
      ],
      { cwd: app.dir },
    );
    const installed = `file://${app.dir}/node_modules/`;
    expect(JSON.parse(loaded.stdout)).toEqual({
      client: `${installed}@parley/client/dist/index.js`,
      protocol: `${installed}@parley/protocol/dist/index.js`,
      ParleyClient: 'function',
    });

    writeFileSync(path.join(app.dir, 'check.ts'), TYPES_CHECK);
    const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    const typed = await run(
      process.execPath,
      [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--skipLibCheck', 'check.ts'],
      { cwd: app.dir },
    );
    expect(typed.stdout + typed.stderr).toBe('');
    expect(typed.code).toBe(0);
  });

  it('in Node, two users sign in and exchange a realtime message, trusting the dev certificate through NODE_EXTRA_CA_CERTS', async () => {
    const chat = await newChatTenant(server, 'Packaged Node');
    const accounts = {
      PARLEY_URL: server.url,
      PARLEY_TENANT_ID: chat.owner.tenantId,
      ALICE: chat.owner.email,
      ALICE_PASSWORD: ownerPassword,
      BOB: chat.bob.email,
      BOB_PASSWORD: chat.bob.password,
    };
    const trusted = await runOk(process.execPath, ['chat.js'], {
      cwd: app.dir,
      env: childEnv({ ...accounts, NODE_EXTRA_CA_CERTS: certFile }),
    });
    expect(JSON.parse(trusted.stdout)).toEqual({
      received: 'Hello Bob, from Node',
      reply: 'Got "Hello Bob, from Node"',
    });

    // The attack: a man in the middle with a certificate nobody vouched for. Without the setting the SDK
    // refuses the server's self-signed certificate before a password is sent.
    const untrusted = await run(process.execPath, ['chat.js'], { cwd: app.dir, env: childEnv(accounts) });
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toMatch(/self[- ]signed certificate|DEPTH_ZERO_SELF_SIGNED_CERT/i);
  });

  it('bundles for the browser with Vite: the compiled SDK without any Node built-in', async () => {
    const built = await runOk(process.execPath, viteArgs(app.dir, 'build'), {
      cwd: app.dir,
      env: childEnv({ NO_COLOR: '1' }),
    });
    expect(built.stdout + built.stderr).not.toMatch(/externalized for browser compatibility/);
    const assets = path.join(app.dir, 'dist/assets');
    const scripts = readdirSync(assets).filter((file) => file.endsWith('.js'));
    expect(scripts).toHaveLength(1);
    const bundle = readFileSync(path.join(assets, scripts[0] ?? ''), 'utf8');
    expect(bundle).toContain('/v1/realtime');
    expect(bundle).not.toMatch(/["']node:|require\(/);
  });

  it.skipIf(chromiumSkip !== undefined)(
    'in Chromium, the Vite app signs in through the dev proxy and exchanges realtime messages with a Node user',
    async () => {
      const chat = await newChatTenant(server, 'Packaged browser');
      const dialogId = await chat.newDialog('Browser check');
      const alice = await signedInSdk(server, chat, 'alice');
      const aliceInbox = new Inbox(alice.client.realtime, 'message.new');
      alice.client.realtime.connect();
      const preview = await startVitePreview(
        app.dir,
        childEnv({ PARLEY_URL: server.url, NODE_EXTRA_CA_CERTS: certFile }),
      );
      // No certificate exception in the browser: it talks to Vite over loopback HTTP, Vite to Parley over TLS.
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      });
      try {
        const { epoch } = await alice.client.realtime.whenReady();
        expect(epoch).toBeTruthy();
        const page = await browser.newPage();
        const pageErrors: string[] = [];
        page.on('pageerror', (error) => pageErrors.push(error.message));
        await page.goto(preview.url);
        await page.fill('input[name=tenantId]', chat.owner.tenantId);
        await page.fill('input[name=username]', chat.bob.email);
        await page.fill('input[name=password]', chat.bob.password);
        await page.click('#sign-in button');
        await page.locator('#status', { hasText: 'ready' }).waitFor();

        await alice.client.realtime.send(dialogId, 'Hello Bob, from Node');
        await page.locator('#messages li', { hasText: 'Hello Bob, from Node' }).waitFor();

        await page.fill('input[name=text]', 'Hello Alice, from the browser');
        await page.click('#reply button');
        await aliceInbox.waitFor(
          (frame) =>
            frame.message.senderId === chat.bob.userId &&
            frame.message.body === 'Hello Alice, from the browser',
        );
        expect(pageErrors).toEqual([]);
      } finally {
        alice.client.realtime.close();
        await alice.http.close();
        await browser.close();
        await preview.stop();
      }
    },
  );

  it('docs/client-sdk.md shows the exact app and install command this test runs', () => {
    const docs = readFileSync(path.join(REPO_ROOT, 'docs/client-sdk.md'), 'utf8');
    for (const file of APP_FILES) {
      const text = readFileSync(path.join(APP_DIR, file), 'utf8');
      const fence = file.endsWith('.html') ? 'html' : 'js';
      expect(docs, file).toContain(`\`\`\`${fence}\n${text}\`\`\``);
    }
    expect(docs).toContain(`npm ${app.installArgs.slice(0, 5).join(' ')}`);
  });
});
