import type { Page } from 'playwright-core';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recordBackupAttempt, recordBackupVerify } from '../../src/backup/backup-state.ts';
import { systemClock } from '../../src/clock.ts';
import { createKeyManagement, type KeyManagement } from '../../src/crypto/key-management.ts';
import type { DialectName } from '../../src/storage/dialects/dialect-adapter.ts';
import { seriousAxeViolations } from './axe.ts';
import {
  bearer,
  json,
  memberPassword,
  newMember,
  newTenantOwner,
  ownerPassword,
  type SignedIn,
  signIn,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { fillSignIn } from '../support/browser-sign-in.ts';
import { describeConsoleInChromium } from '../support/console-browser-suite.ts';

/**
 * The console's "Keys and backups" page in Debian's Chromium against a real server, on SQLite and
 * PostgreSQL: it shows the state the evidence report computes from the database (this tenant's data key
 * version after the owner rotated it from the page, the re-wrap still running, the last backup and its trial restore), follows that
 * state when asked again (a failed backup, the re-wrap done). Attacks tried: a compliance officer is offered
 * no rotation (the server refuses it: tenant-key-rotation.test.ts); a member is offered no page. Screenshot
 * from the SQLite run to docs/screenshots/.
 */

const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');
const SCREENSHOTS = path.join(REPO_ROOT, 'docs/screenshots');

describeConsoleInChromium(
  'console keys and backups page',
  'console keys and backups page in Chromium',
  suite,
);

function suite(dialect: DialectName, newPage: () => Promise<Page>): void {
  let server: TestServer;
  let owner: SignedIn;
  let keys: KeyManagement;

  beforeAll(async () => {
    // The server's own re-encryption pass is held off so the test decides when the re-wrap ends.
    server = await startTestServer({ dialect, env: { PARLEY_REENCRYPT_INTERVAL_SECONDS: '86400' } });
    owner = await newTenantOwner(server, 'Keys Clinic', 'profile admin audit');
    keys = createKeyManagement({
      storage: server.app.storage,
      keyring: server.app.security.keyring,
      clock: systemClock,
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('shows the tenant’s key versions, a running rotation and the last backup and trial restore; follows a failed backup and the re-wrap ending', async () => {
    const { storage } = server.app;
    const backupAt = Date.now() - 3 * 3_600_000;
    await recordBackupAttempt(storage, {
      at: backupAt,
      kind: 'full',
      errorCode: null,
      id: 'b1',
      bytes: 52_428_800,
    });
    await recordBackupVerify(storage, { at: backupAt + 600_000, id: 'b1', ok: true });
    const page = await newPage();
    await page.setViewportSize({ width: 1100, height: 800 });
    await page.goto(`${server.url}/console/`);
    await fillSignIn(page, owner.tenantId, owner.email, ownerPassword);
    await page
      .getByRole('navigation', { name: 'Console' })
      .getByRole('link', { name: 'Keys and backups' })
      .click();
    await page.getByRole('heading', { name: 'Keys and backups', level: 1 }).waitFor();
    await page
      .getByRole('status')
      .filter({ hasText: /^As of / })
      .waitFor();

    const keyTable = page.getByRole('table', { name: 'Keys in use' });
    const dataKey = keyTable.getByRole('row').filter({ hasText: 'This tenant’s data key' });
    await page.getByText('No key rotation is pending for this tenant.').waitFor();
    expect(await dataKey.locator('td[data-label="Version"]').textContent()).toBe('1');

    // The owner rotates the data key from the page (asked to confirm): version 2, the re-wrap running.
    await page.getByRole('button', { name: 'Rotate this tenant’s data key' }).click();
    await page.getByRole('button', { name: 'Confirm: rotate the data key now' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Rotation started: new data uses key version 2' })
      .waitFor();
    await page.getByText('the existing user keys are being re-wrapped onto it in the background').waitFor();
    // No second rotation is offered while this one runs (and the server would start none).
    expect(await page.getByRole('button', { name: 'Rotate this tenant’s data key' }).isDisabled()).toBe(true);
    const audited = await server.request('/v1/audit?action=keys.data_key_rotated', bearer(owner.accessToken));
    expect(audited.json<{ entries: { details: unknown }[] }>().entries).toEqual([
      expect.objectContaining({ details: { dataKeyVersion: 2 } }),
    ]);
    expect(await dataKey.locator('td[data-label="Version"]').textContent()).toBe('2');
    expect(await dataKey.locator('td[data-label="Age"]').textContent()).toBe('0 days');
    expect(await dataKey.locator('td[data-label="Rotation"]').textContent()).toMatch(
      /^Due .* \(in 36[45] days\)$/,
    );
    const indexKey = keyTable.getByRole('row').filter({ hasText: 'This tenant’s index key' });
    expect(await indexKey.locator('td[data-label="Version"]').textContent()).toBe('1');
    expect(await keyTable.getByRole('row').filter({ hasText: 'Installation master key' }).count()).toBe(1);
    expect(await keyTable.getByRole('row').filter({ hasText: 'Audit signing key' }).count()).toBeGreaterThan(
      0,
    );
    await page.getByText('the existing user keys are being re-wrapped onto it in the background').waitFor();
    expect(await page.locator('.verdict').first().textContent()).toBe('Key management: needs attention');
    await page
      .getByRole('list', { name: 'Key management: reasons' })
      .getByText('A data-key rotation still has user keys to re-wrap.')
      .waitFor();

    const backupFacts = page.locator('dl.backup-facts');
    const fact = (term: string) => backupFacts.locator(`dt:text-is("${term}") + dd`);
    expect(await fact('Last successful backup').textContent()).toMatch(/ UTC, 50\.0 MiB stored$/);
    expect(await fact('Last verification (trial restore)').textContent()).toMatch(/ UTC: passed$/);
    expect(await fact('Last attempt').textContent()).toMatch(/ UTC: succeeded$/);
    expect(await fact('Backup tool').textContent()).toBe(
      dialect === 'sqlite' ? 'built-in encrypted backups' : 'pgBackRest',
    );
    expect(await seriousAxeViolations(page)).toEqual([]);
    if (dialect === 'sqlite')
      await page.screenshot({
        path: path.join(SCREENSHOTS, 'console-keys-and-backups.png'),
        fullPage: true,
      });

    // The next attempt fails and the re-wrap finishes: "Check again" shows both.
    await recordBackupAttempt(storage, {
      at: Date.now(),
      kind: 'incremental',
      errorCode: 'backup_target_full',
      id: null,
    });
    await keys.reencryptPending();
    await page.getByRole('button', { name: 'Check again' }).click();
    await page.getByText('No key rotation is pending for this tenant.').waitFor();
    expect(await fact('Last attempt').textContent()).toMatch(/ UTC: FAILED \(backup_target_full\)$/);
    // The last success and its size are kept.
    expect(await fact('Last successful backup').textContent()).toMatch(/ UTC, 50\.0 MiB stored$/);
    await page
      .getByRole('list', { name: 'Backups: reasons' })
      .getByText('The last backup attempt failed (backup_target_full).')
      .waitFor();
    expect(await page.locator('.verdict').nth(1).textContent()).toBe('Backups: needs attention');
    expect(await dataKey.locator('td[data-label="Version"]').textContent()).toBe('2');
    expect(await page.getByRole('button', { name: 'Rotate this tenant’s data key' }).isDisabled()).toBe(
      false,
    );
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.close();
  });

  it('shows a compliance officer the page without the owner’s rotation, which the server refuses them', async () => {
    const email = `officer-${dialect}@keys.example`;
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Otto Officer', email, password: memberPassword, roles: ['compliance_officer'] },
        owner.accessToken,
      ),
    );
    expect(created.status, created.text).toBe(201);
    // The officer accepts the tenant's required purposes first (as in compliance-console-browser.test.ts).
    const officer = await signIn(server, owner.tenantId, email, memberPassword, 'profile admin audit');
    const refused = await server.request('/v1/tenant/keys/rotation', bearer(officer.accessToken, 'POST'));
    expect(refused.status, refused.text).toBe(403);
    const page = await newPage();
    await page.goto(`${server.url}/console/keys-and-backups`);
    await fillSignIn(page, owner.tenantId, email, memberPassword);
    await page.getByRole('heading', { name: 'Keys and backups', level: 1 }).waitFor();
    await page.getByRole('table', { name: 'Keys in use' }).waitFor();
    expect(await page.getByRole('button', { name: 'Rotate this tenant’s data key' }).count()).toBe(0);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.close();
  });

  it('is not offered to a member (no compliance.report): no link, and its address leads elsewhere', async () => {
    const member = await newMember(server, owner, `member-${dialect}@keys.example`);
    expect(member.userId).toBeTruthy();
    const page = await newPage();
    await page.goto(`${server.url}/console/keys-and-backups`);
    await fillSignIn(page, owner.tenantId, `member-${dialect}@keys.example`, memberPassword);
    // Signed in, the console moves the member off a page their role does not have.
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await expect.poll(() => new URL(page.url()).pathname).not.toBe('/console/keys-and-backups');
    expect(await page.getByRole('link', { name: 'Keys and backups' }).count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Keys and backups' }).count()).toBe(0);
    await page.close();
  });
}
