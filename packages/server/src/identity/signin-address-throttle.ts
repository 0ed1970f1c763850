import type { Counter } from '../counters/counter.ts';
import { clientAddressKey } from '../client-address.ts';
import type { PasswordPolicy } from './password-policy.ts';

/** The window of the global per-address ceiling (an operator setting; each tenant sets its own window). */
export const SIGNIN_CEILING_WINDOW_SECONDS = 900;

/** Why an address may not try to sign in now, and for how long. */
export interface AddressRefusal {
  retryAfter: number;
}

/**
 * Failed sign-ins per client address, counted twice:
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

  /** The refusal when either count is spent, else undefined. Counts nothing. */
  async refusal(
    tenantId: string,
    ip: string | undefined,
    policy: Pick<PasswordPolicy, 'ipLockout'>,
  ): Promise<AddressRefusal | undefined> {
    const { maxFailures, windowSeconds } = policy.ipLockout;
    if ((await this.counter.peek(tenantKey(tenantId, ip), windowSeconds * 1000)) >= maxFailures) {
      return { retryAfter: windowSeconds };
    }
    if ((await this.counter.peek(globalKey(ip), SIGNIN_CEILING_WINDOW_SECONDS * 1000)) >= this.ceiling) {
      return { retryAfter: SIGNIN_CEILING_WINDOW_SECONDS };
    }
    return undefined;
  }

  /** Counts one failed sign-in from `ip` at `tenantId`, in both counts. */
  async registerFailure(
    tenantId: string,
    ip: string | undefined,
    policy: Pick<PasswordPolicy, 'ipLockout'>,
  ): Promise<void> {
    await this.counter.increment(tenantKey(tenantId, ip), policy.ipLockout.windowSeconds * 1000);
    await this.counter.increment(globalKey(ip), SIGNIN_CEILING_WINDOW_SECONDS * 1000);
  }
}

const addressKey = (ip: string | undefined) => (ip === undefined ? 'unknown' : clientAddressKey(ip));
const tenantKey = (tenantId: string, ip: string | undefined) => `signin-ip:${tenantId}:${addressKey(ip)}`;
const globalKey = (ip: string | undefined) => `signin-ip:*:${addressKey(ip)}`;
