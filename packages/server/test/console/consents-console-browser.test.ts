import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DialectName } from '../../src/storage/dialects/dialect-adapter.ts';
import { fillSignIn } from '../support/browser-sign-in.ts';
import { describeConsoleInChromium, expectNoScriptRan } from '../support/console-browser-suite.ts';
import {
  bearer,
  json,
  newTenantOwner,
  ownerPassword,
  type SignedIn,
  signIn,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { seriousAxeViolations } from './axe.ts';

/**
 * The console's Consents page in Debian's Chromium against a real server, on SQLite and PostgreSQL (one server
 * each): an owner publishes a purpose and a second version of it, a required one only after a confirmation,
 * and reads the consent ledger of a user who granted it. Attack tried: script-like text in a purpose's title
 * and text (tenant content users read) must show as text and never run. A role without `consent.manage` sees
 * neither the page nor its controls, and the server refuses it too.
 */

const TITLE = 'Newsletter <img src=x onerror=window.__xss=1> monthly';
const TEXT_V1 = 'We e-mail you news once a month.\n<script>window.__xss=2</script>';
const TEXT_V2 = 'We e-mail you news twice a month. <img src=x onerror=window.__xss=3>';
const memberPassword = 'Quiet meadow pebble 71 orchard';
const agentPassword = 'Copper kettle drizzle 64 walnut';
const deskPassword = 'Marble ferry whistle 39 saffron';

interface Purpose {
  key: string;
  version: number;
  title: string;
  text: string;
  lawfulBasis: string;
  required: boolean;
  active: boolean;
}

describeConsoleInChromium('console consents page', 'console consents page in Chromium', suite);

function suite(dialect: DialectName, newPage: () => Promise<Page>): void {
  let server: TestServer;
  let owner: SignedIn;
  const member = { id: '', email: `mia-${dialect}@clinic.example` };
  const api = (route: string, token: string, method = 'GET', body?: unknown) =>
    server.request(route, body === undefined ? bearer(token, method) : json(body, token, method));
  const newUser = async (email: string, password: string, roles: string[]) => {
    const created = await api('/v1/users', owner.accessToken, 'POST', {
      displayName: email.split('@')[0],
      email,
      password,
      roles,
    });
    expect(created.status, created.text).toBe(201);
    return created.json<{ userId: string }>().userId;
  };
  const purposesOnServer = async () =>
    (await api('/v1/consent-purposes', owner.accessToken)).json<{ purposes: Purpose[] }>().purposes;
  const openConsents = async (email: string, password: string) => {
    const page = await newPage();
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.goto(`${server.url}/console/consents`);
    await fillSignIn(page, owner.tenantId, email, password);
    return page;
  };

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Consent Clinic', 'profile admin audit');
    member.id = await newUser(member.email, memberPassword, ['member']);
  });
  afterAll(async () => {
    await server.close();
  });

  it('an owner publishes an optional purpose and its version 2; the server holds exactly that, shown as text', async () => {
    const page = await openConsents(owner.email, ownerPassword);
    await page.getByRole('heading', { name: 'Consents and purposes', level: 1 }).waitFor();
    const create = page.getByRole('form', { name: 'Publish a new purpose' });
    await create.getByLabel('Key').fill('newsletter');
    await create.getByLabel('Title').fill(TITLE);
    await create.getByLabel('Text').fill(TEXT_V1);
    await create.getByLabel('Lawful basis').selectOption('consent');
    await create.getByRole('button', { name: 'Publish purpose' }).click();
    await create.getByText('Published newsletter, version 1.').waitFor();

    const row = page.locator('table.grid tbody tr').filter({ hasText: 'newsletter' });
    await row.waitFor();
    expect(await row.locator('td[data-label="Purpose"] strong').textContent()).toBe(TITLE);
    expect(await row.locator('td[data-label="Required"]').textContent()).toBe('no');
    await expectNoScriptRan(page);

    // The same key again: refused by the server, said in words.
    await create.getByLabel('Key').fill('newsletter');
    await create.getByLabel('Title').fill('Another');
    await create.getByLabel('Text').fill('Another text.');
    await create.getByRole('button', { name: 'Publish purpose' }).click();
    await create.getByText('A purpose with this key exists already').waitFor();

    // Version 2: new text. An optional purpose needs no second confirmation.
    await row.getByRole('button', { name: 'New version of newsletter' }).click();
    const edit = page.getByRole('form', { name: 'New version of newsletter' });
    expect(await edit.getByLabel('Text').inputValue()).toBe(TEXT_V1);
    await edit.getByRole('button', { name: 'Publish version 2' }).click();
    await edit.getByText('Nothing changed').waitFor();
    await edit.getByLabel('Text').fill(TEXT_V2);
    await edit.getByRole('button', { name: 'Publish version 2' }).click();
    await page.getByText('Published newsletter, version 2.').waitFor();
    await expect.poll(() => row.locator('td[data-label="Version"]').textContent()).toMatch(/^2 /);
    await expectNoScriptRan(page);
    expect(await seriousAxeViolations(page)).toEqual([]);

    const newsletter = (await purposesOnServer()).filter((purpose) => purpose.key === 'newsletter');
    expect(newsletter).toEqual([
      expect.objectContaining({
        key: 'newsletter',
        version: 2,
        title: TITLE,
        text: TEXT_V2,
        lawfulBasis: 'consent',
        required: false,
        active: true,
      }),
    ]);
    const versions = (await api('/v1/consent-purposes/newsletter/versions', owner.accessToken)).json<{
      purposes: Purpose[];
    }>().purposes;
    expect(versions.map((purpose) => [purpose.version, purpose.text])).toEqual([
      [1, TEXT_V1],
      [2, TEXT_V2],
    ]);
    await page.close();
  });

  it('a required purpose is published only after a confirmation that says every user must accept it', async () => {
    const page = await openConsents(owner.email, ownerPassword);
    const create = page.getByRole('form', { name: 'Publish a new purpose' });
    await create.getByLabel('Key').fill('records');
    await create.getByLabel('Title').fill('Medical records');
    await create.getByLabel('Text').fill('We keep your records.');
    await create.getByLabel('Lawful basis').selectOption('legal_obligation');
    await create.getByRole('checkbox', { name: /Required/ }).check();
    await create.getByRole('button', { name: 'Publish purpose' }).click();
    await create
      .getByRole('alert')
      .filter({ hasText: 'Every user, you included, then owes consent' })
      .waitFor();
    // Cancelling sends nothing.
    await create.getByRole('button', { name: 'Cancel' }).click();
    expect((await purposesOnServer()).map((purpose) => purpose.key)).not.toContain('records');

    // The required `service` purpose: its version form says what a new version does, and asks twice.
    await page.getByRole('button', { name: 'New version of service' }).click();
    const edit = page.getByRole('form', { name: 'New version of service' });
    await edit.getByText('Every user, you included, then owes consent').waitFor();
    await edit.getByLabel('Title').fill('The service, reworded');
    await edit.getByRole('button', { name: 'Publish version 2' }).click();
    await edit.getByRole('button', { name: 'Confirm: publish version 2' }).waitFor();
    await edit.getByRole('button', { name: 'Cancel' }).click();
    const service = (await purposesOnServer()).find((purpose) => purpose.key === 'service');
    expect(service?.version).toBe(1);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.close();
  });

  it('shows the ledger of a user who granted the purpose over the API, found by e-mail and by id', async () => {
    // Mia, made by an admin, accepts `service` at sign-in (as a client would), then grants the newsletter.
    const mia = await signIn(server, owner.tenantId, member.email, memberPassword);
    const granted = await api('/v1/me/consents/newsletter', mia.accessToken, 'PUT', { version: 2 });
    expect(granted.status, granted.text).toBe(200);

    const page = await openConsents(owner.email, ownerPassword);
    const find = page.getByRole('form', { name: 'Show a user’s consent ledger' });
    await find.getByLabel('E-mail address (exact) or user id').fill(member.email);
    await find.getByRole('button', { name: 'Show the ledger' }).click();
    const ledger = page.getByRole('table', { name: /^Consent ledger of / });
    await ledger.waitFor();
    const rows = ledger.locator('tbody tr');
    expect(await rows.count()).toBe(2);
    const newsletter = rows.filter({ hasText: 'newsletter' });
    expect(await newsletter.locator('td[data-label="Purpose"]').textContent()).toBe(`${TITLE} newsletter`);
    expect(await newsletter.locator('td[data-label="Version"]').textContent()).toBe('2');
    expect(await newsletter.locator('td[data-label="Action"]').textContent()).toBe('granted');
    expect(await newsletter.locator('td[data-label="How"]').textContent()).toBe(
      'by the user, in their consents',
    );
    const service = rows.filter({ hasText: 'service' });
    expect(await service.locator('td[data-label="Version"]').textContent()).toBe('1');
    await expectNoScriptRan(page);
    expect(await seriousAxeViolations(page)).toEqual([]);

    // Withdrawn: the ledger appends, it does not rewrite.
    expect((await api('/v1/me/consents/newsletter', mia.accessToken, 'DELETE')).status).toBe(200);
    await find.getByLabel('E-mail address (exact) or user id').fill(member.id);
    await find.getByRole('button', { name: 'Show the ledger' }).click();
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.last().locator('td[data-label="Action"]').textContent()).toBe('withdrew');

    // An unknown address is said so.
    await find.getByLabel('E-mail address (exact) or user id').fill(`nobody-${dialect}@clinic.example`);
    await find.getByRole('button', { name: 'Show the ledger' }).click();
    await find.getByText('No user has this e-mail address.').waitFor();
    await page.close();
  });

  it('a role without consent.manage is not shown the Consents page or its publish controls; the server refuses it', async () => {
    const agentEmail = `sam-${dialect}@clinic.example`;
    await newUser(agentEmail, agentPassword, ['support_agent']);
    // Signed in over the API first, which accepts the required purposes the account owes.
    const agent = await signIn(server, owner.tenantId, agentEmail, agentPassword);
    const page = await openConsents(agentEmail, agentPassword);
    // Asked for /console/consents, the console opens the first page the role has instead.
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).not.toBe('/console/consents');
    const nav = page.getByRole('navigation', { name: 'Console' });
    expect(await nav.getByRole('link', { name: 'Consents' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Publish|^New version/ }).count()).toBe(0);
    expect(await page.getByRole('form', { name: 'Publish a new purpose' }).count()).toBe(0);
    await page.close();

    const refused = await api('/v1/consent-purposes', agent.accessToken, 'POST', {
      key: 'tracking',
      title: 'Tracking',
      text: 'We track you.',
      lawfulBasis: 'legitimate_interests',
    });
    expect(refused.status).toBe(403);
    expect((await purposesOnServer()).map((purpose) => purpose.key)).not.toContain('tracking');
  });

  it('a custom role with consent.manage but not users.read finds a ledger by user id only', async () => {
    const role = await api('/v1/roles/consent_desk', owner.accessToken, 'PUT', {
      permissions: ['profile.read', 'consent.manage'],
    });
    expect(role.status, role.text).toBeLessThan(300);
    const deskEmail = `desk-${dialect}@clinic.example`;
    await newUser(deskEmail, deskPassword, ['consent_desk']);
    await signIn(server, owner.tenantId, deskEmail, deskPassword);
    const page = await openConsents(deskEmail, deskPassword);
    const find = page.getByRole('form', { name: 'Show a user’s consent ledger' });
    await find.getByLabel('User id', { exact: true }).fill(member.email);
    await find.getByRole('button', { name: 'Show the ledger' }).click();
    await find.getByText('Enter a user id').waitFor();
    await find.getByLabel('User id', { exact: true }).fill(member.id);
    await find.getByRole('button', { name: 'Show the ledger' }).click();
    await expect
      .poll(() =>
        page
          .getByRole('table', { name: /^Consent ledger of / })
          .locator('tbody tr')
          .count(),
      )
      .toBe(3);
    await page.close();
  });
}
