import type { Page } from 'playwright-core';

/** Fills the console's or the chat app's sign-in form (already open in `page`) and submits it. */
export async function fillSignIn(
  page: Page,
  tenantId: string,
  email: string,
  password: string,
): Promise<void> {
  await page.getByLabel('Tenant id').fill(tenantId);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
