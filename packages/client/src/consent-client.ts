import type { AcceptedPurpose, ConsentPurpose, MyConsent } from '@parley/protocol';
import type { Requester } from './account-client.ts';
import { path } from './rest/rest-path.ts';

export type { AcceptedPurpose, ConsentPurpose, MyConsent };

/** What `POST /v1/tenants/{tenantId}/signup` needs (and an invitation's token, in invite-only tenants). */
export interface SignUpRequest {
  tenantId: string;
  displayName: string;
  email: string;
  password: string;
  inviteToken?: string;
  /**
   * The purpose versions the user was shown and accepted (from {@link ConsentClient.published}): every
   * required one must be here, or the server answers `403 consent_required`.
   */
  acceptedPurposes: AcceptedPurpose[];
}

/**
 * Processing purposes and the signed-in user's consent to them (GDPR Art. 7; docs/privacy.md). A sign-in
 * whose `notice` is `consent_required` gives a token that reaches only `profile` routes: show the purposes
 * from {@link ConsentClient.list}, {@link ConsentClient.grant} the required ones the user accepts, and the
 * same token works in full again.
 */
export class ConsentClient {
  readonly #rest: Requester;

  constructor(rest: Requester) {
    this.#rest = rest;
  }

  /** The tenant's active purposes at their current versions, for a sign-up form (no token needed). */
  async published(tenantId: string): Promise<ConsentPurpose[]> {
    const answer = await this.#rest.request<{ purposes: ConsentPurpose[] }>(
      'GET',
      path`/v1/tenants/${tenantId}/consent-purposes`,
    );
    return answer.purposes;
  }

  /** Creates an account that accepts the listed purposes; answers its user id. Sign in afterwards. */
  async signUp(request: SignUpRequest): Promise<{ userId: string }> {
    const { tenantId, ...body } = request;
    return this.#rest.request<{ userId: string }>('POST', path`/v1/tenants/${tenantId}/signup`, body);
  }

  /** Every purpose with where the signed-in user stands on it (`granted`, `outdated`, `withdrawn`, `none`). */
  async list(): Promise<MyConsent[]> {
    return (await this.#rest.request<{ consents: MyConsent[] }>('GET', '/v1/me/consents')).consents;
  }

  /**
   * Grants a purpose. `version` is the one the user read: if the purpose changed since, the server answers
   * `409 consent_version_stale` and the new text must be shown first.
   */
  grant(key: string, version: number): Promise<MyConsent> {
    return this.#rest.request<MyConsent>('PUT', path`/v1/me/consents/${key}`, { version });
  }

  /** Withdraws consent, at once. Withdrawing a required purpose limits every session of the user to `profile`. */
  withdraw(key: string): Promise<MyConsent> {
    return this.#rest.request<MyConsent>('DELETE', path`/v1/me/consents/${key}`);
  }
}
