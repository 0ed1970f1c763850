import { createHmac } from 'node:crypto';
import type { SystemTx, TenantTx } from '../storage/database.ts';
import type { Keyring } from './keyring.ts';

/** How each indexed kind of value is normalised before hashing, so equal values match. */
const normalisers = {
  email: (value: string) => value.trim().normalize('NFKC').toLowerCase(),
  phone: (value: string) => value.replace(/[\s().-]/g, ''),
} as const;

export type BlindIndexKind = keyof typeof normalisers;

/**
 * Equality lookup over encrypted values: HMAC-SHA-256 under the tenant's own index key (separate from its
 * data key, so rotating the data key leaves lookups intact). The same e-mail in two tenants gives two
 * unrelated index values.
 */
export class BlindIndex {
  constructor(private readonly keyring: Keyring) {}

  async compute(tx: TenantTx, tenantId: string, kind: BlindIndexKind, value: string): Promise<string> {
    const { key } = await this.keyring.tenantKey(tx, tenantId, 'index');
    return createHmac('sha256', key)
      .update(`${kind}:${normalisers[kind](value)}`)
      .digest('base64url');
  }

  /** The same over data of no tenant (an operator staff member's e-mail), under the platform's index key. */
  async computeForPlatform(tx: SystemTx, kind: BlindIndexKind, value: string): Promise<string> {
    const { key } = await this.keyring.platformKey(tx, 'index');
    return createHmac('sha256', key)
      .update(`${kind}:${normalisers[kind](value)}`)
      .digest('base64url');
  }
}
