import type { Http } from './bench-http.js';

/** The tenant's required purposes at their current versions, as an owner setup or a sign-up accepts them. */
export async function requiredPurposes(
  http: Http,
  tenantId: string,
): Promise<{ key: string; version: number }[]> {
  const { purposes } = await http.call<{ purposes: { key: string; version: number; required: boolean }[] }>(
    `/v1/tenants/${tenantId}/consent-purposes`,
  );
  return purposes.filter((purpose) => purpose.required).map(({ key, version }) => ({ key, version }));
}

/**
 * Grants every required purpose the token's user owes, as a client does after a sign-in answered
 * `parley_notice: consent_required` (users made over `POST /v1/users` owe them at their first sign-in). The
 * same token then works in full: nothing else changes for the bench.
 */
export async function acceptOwedConsents(http: Http, token: string): Promise<void> {
  const { consents } = await http.call<{
    consents: { purpose: { key: string; version: number; required: boolean }; state: string }[];
  }>('/v1/me/consents', { token });
  for (const { purpose } of consents.filter((entry) => entry.purpose.required && entry.state !== 'granted'))
    await http.call(`/v1/me/consents/${purpose.key}`, {
      method: 'PUT',
      token,
      json: { version: purpose.version },
    });
}
