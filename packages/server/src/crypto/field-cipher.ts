import type { SystemTx, TenantTx } from '../storage/database.ts';
import { DecryptionError, open, seal } from './aead.ts';
import type { Keyring } from './keyring.ts';

/**
 * Where a sealed field lives. Bound into the ciphertext as associated data, so a value copied to another
 * row, column, table or tenant fails to open.
 */
export interface FieldLocation {
  tenantId: string;
  table: string;
  column: string;
  rowId: string;
}

/** Where a sealed field of no tenant lives (operator staff, law-enforcement requests): bound like a tenant's. */
export type PlatformFieldLocation = Omit<FieldLocation, 'tenantId'>;

/** The tenant part of a platform field's binding: no tenant id (a UUID) can take it. */
const PLATFORM_SCOPE = 'platform';

/**
 * Envelope: `pf1.<key reference>.<base64url(nonce ‖ ciphertext ‖ tag)>`. The key reference is `u` (the
 * owning user's key, for personal data that crypto-shredding must reach), `t<version>` (the tenant data
 * key version) or `p<version>` (the platform data key, for data of no tenant). Versioned so the format can
 * change without guessing.
 */
const ENVELOPE_PREFIX = 'pf1';

const binding = ({ tenantId, table, column, rowId }: FieldLocation) =>
  `parley/v1/field/${tenantId}/${table}/${column}/${rowId}`;

const platformBinding = (location: PlatformFieldLocation) =>
  binding({ tenantId: PLATFORM_SCOPE, ...location });

/**
 * Whether a stored value is a field envelope at all: values written before a column was sealed are plain
 * text until the start-up sealing (storage/plaintext-sealing.ts) converts them.
 */
export const isFieldEnvelope = (value: string): boolean => /^pf1\.(u|t\d+|p\d+)\.[A-Za-z0-9_-]+$/.test(value);

export class FieldCipher {
  constructor(private readonly keyring: Keyring) {}

  /** Seals personal data under the owning user's key. */
  async sealForUser(
    tx: TenantTx,
    location: FieldLocation,
    userId: string,
    plaintext: string,
  ): Promise<string> {
    const key = await this.keyring.userKey(tx, location.tenantId, userId);
    return `${ENVELOPE_PREFIX}.u.${seal(key, Buffer.from(plaintext, 'utf8'), binding(location)).toString('base64url')}`;
  }

  /** Seals tenant-held data (not tied to one person's erasure) under the tenant's active data key. */
  async sealForTenant(tx: TenantTx, location: FieldLocation, plaintext: string): Promise<string> {
    const { version, key } = await this.keyring.tenantKey(tx, location.tenantId, 'data');
    const sealed = seal(key, Buffer.from(plaintext, 'utf8'), binding(location)).toString('base64url');
    return `${ENVELOPE_PREFIX}.t${version}.${sealed}`;
  }

  /** Seals data of no tenant (operator staff, law-enforcement requests) under the platform data key. */
  async sealForPlatform(tx: SystemTx, location: PlatformFieldLocation, plaintext: string): Promise<string> {
    const { version, key } = await this.keyring.platformKey(tx, 'data');
    const sealed = seal(key, Buffer.from(plaintext, 'utf8'), platformBinding(location)).toString('base64url');
    return `${ENVELOPE_PREFIX}.p${version}.${sealed}`;
  }

  /** Opens a `sealForPlatform` envelope; anything else, tampered with or misplaced throws `DecryptionError`. */
  async openForPlatform(tx: SystemTx, location: PlatformFieldLocation, envelope: string): Promise<string> {
    const [prefix, reference, body, ...rest] = envelope.split('.');
    if (
      prefix !== ENVELOPE_PREFIX ||
      body === undefined ||
      rest.length > 0 ||
      !/^p\d+$/.test(reference ?? '')
    )
      throw new DecryptionError('not a Parley platform field envelope');
    const { key } = await this.keyring.platformKey(tx, 'data');
    return open(key, Buffer.from(body, 'base64url'), platformBinding(location)).toString('utf8');
  }

  /**
   * Opens an envelope. `ownerUserId` is required for user-sealed fields. Throws `KeyDestroyedError` for a
   * shredded user and `DecryptionError` for anything tampered with or misplaced.
   */
  async open(tx: TenantTx, location: FieldLocation, envelope: string, ownerUserId?: string): Promise<string> {
    const [prefix, reference, body, ...rest] = envelope.split('.');
    if (prefix !== ENVELOPE_PREFIX || reference === undefined || body === undefined || rest.length > 0) {
      throw new DecryptionError('not a Parley field envelope');
    }
    let key: Buffer;
    if (reference === 'u') {
      if (ownerUserId === undefined) throw new DecryptionError('user-sealed field needs its owner');
      key = await this.keyring.userKey(tx, location.tenantId, ownerUserId);
    } else if (/^t\d+$/.test(reference)) {
      key = (await this.keyring.tenantKey(tx, location.tenantId, 'data', Number(reference.slice(1)))).key;
    } else {
      throw new DecryptionError('unknown key reference');
    }
    return open(key, Buffer.from(body, 'base64url'), binding(location)).toString('utf8');
  }
}
