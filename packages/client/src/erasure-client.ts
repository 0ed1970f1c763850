import type { ErasureBody } from '@parley/protocol';
import type { Requester } from './account-client.ts';

/** An erasure of the user's account and where it stands (`scheduled` until `eraseAfter`, then for good). */
export type Erasure = ErasureBody;

/**
 * The signed-in user's erasure (GDPR Art. 17): ask for it with the password, follow it, cancel it while its
 * grace period runs. Once it starts, the account's sessions end: this client's tokens stop working.
 */
export class ErasureClient {
  readonly #rest: Requester;

  constructor(rest: Requester) {
    this.#rest = rest;
  }

  /**
   * Schedules the erasure for the end of the tenant's grace period. An account with MFA must also give a
   * current TOTP `code` or one `recoveryCode` (refused with `mfa_code_required` otherwise).
   */
  request(password: string, secondFactor?: { code: string } | { recoveryCode: string }): Promise<Erasure> {
    return this.#rest.request<Erasure>('POST', '/v1/me/erasure', { password, ...secondFactor });
  }

  /** The latest erasure of the account (a `ParleyApiError` with `not_found` when there was none). */
  status(): Promise<Erasure> {
    return this.#rest.request<Erasure>('GET', '/v1/me/erasure');
  }

  /** Cancels it during the grace period: nothing is erased (`erasure_started` once it is over). */
  cancel(): Promise<Erasure> {
    return this.#rest.request<Erasure>('DELETE', '/v1/me/erasure');
  }
}
