import type { Counter } from '../../counters/counter.ts';
import { clientAddressKey } from '../../client-address.ts';
import type { PasswordPolicy } from './password-policy.ts';

/** The window of the global per-address ceiling (an operator setting; each tenant sets its own window). */
export const SIGNIN_CEILING_WINDOW_SECONDS = 900;

/** Why an address may not try to sign in now, and for how long. */
export interface AddressRefusal {
  retryAfter: number;
}

/**
 * Failed sign-ins per client address, counted twice (each attempt reserves its place before it is judged,
 * see `reserve`):
 *
 * - per tenant and address, against the tenant's `ipLockout` policy: failures at one tenant must not refuse
 *   the users of another tenant behind the same address (an office or carrier NAT, a VPN exit), or anyone
 *   could lock strangers out with a few wrong passwords at a tenant of their own;
 * - per address across all tenants, against `ceiling` failures per 15 minutes: an address spraying guesses
 *   over many tenants must not get each tenant's allowance anew. The ceiling is set far above a tenant's
 *   limit (500 against 50 by default), so only such spraying meets it.
 *
 * An address is counted as the connection caps count it (`clientAddressKey`): an IPv6 client by its /64,
 * since one host usually holds a whole /64 and could sign in from a fresh address for every guess, and an
 * IPv4 address the same whether it arrives plain or IPv4-mapped.
 *
 * The counters live in the counter store (Redis across nodes), so a cluster counts them once.
 */
export class SignInAddressThrottle {
  constructor(
    private readonly counter: Counter,
    private readonly ceiling: number,
  ) {}

  /**
   * Reserves one attempt from `ip` at `tenantId` in both counts before it is judged, or refuses it.
   *
   * Reserve, not look: with a look before the attempt and a count after it, guesses sent at once all pass
   * the look while the count is still under the limit. Each increment is atomic in the counter store, so at
   * most the limit of attempts hold a place at any time, on one node or many.
   *
   * A refused attempt gives its places back at once: it was not judged, so it is not a failed guess, and
   * the count stays the number of guesses judged (refused ones would not lengthen a fixed window anyway).
   * The caller gives an admitted attempt's places back unless it became a failed guess (`release`).
   */
  async reserve(
    tenantId: string,
    ip: string | undefined,
    policy: Pick<PasswordPolicy, 'ipLockout'>,
  ): Promise<AddressReservation> {
    const { maxFailures, windowSeconds } = policy.ipLockout;
    const atTenant = { key: tenantKey(tenantId, ip), windowMs: windowSeconds * 1000 };
    const global = { key: globalKey(ip), windowMs: SIGNIN_CEILING_WINDOW_SECONDS * 1000 };
    if ((await this.counter.increment(atTenant.key, atTenant.windowMs)) > maxFailures) {
      await this.counter.decrement(atTenant.key, atTenant.windowMs);
      return { refusal: { retryAfter: windowSeconds } };
    }
    if ((await this.counter.increment(global.key, global.windowMs)) > this.ceiling) {
      await this.#giveBack([atTenant, global]);
      return { refusal: { retryAfter: SIGNIN_CEILING_WINDOW_SECONDS } };
    }
    return { refusal: undefined, release: () => this.#giveBack([atTenant, global]) };
  }

  async #giveBack(places: readonly { key: string; windowMs: number }[]): Promise<void> {
    for (const { key, windowMs } of places) await this.counter.decrement(key, windowMs);
  }
}

/**
 * The answer to `reserve`: a refusal, or a place held in both counts. `release` gives the place back when the
 * attempt turned out not to be a failed guess (the password was right, or the account was locked and
 * nothing was judged); a failed guess keeps it, and so is counted.
 */
export type AddressReservation =
  { refusal: AddressRefusal } | { refusal: undefined; release: () => Promise<void> };

const addressKey = (ip: string | undefined) => (ip === undefined ? 'unknown' : clientAddressKey(ip));
const tenantKey = (tenantId: string, ip: string | undefined) => `signin-ip:${tenantId}:${addressKey(ip)}`;
const globalKey = (ip: string | undefined) => `signin-ip:*:${addressKey(ip)}`;
