import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import type { Clock } from '../clock.ts';
import { onRollback, type Storage, type SystemTx, type TenantTx } from '../storage/database.ts';
import type { TenantKeyPurpose } from '../storage/tables.ts';
import { DecryptionError, open, seal } from './aead.ts';
import { ErasureRegister } from './erasure-register.ts';
import { KeyCache } from './key-cache.ts';
import { TenantPurgeRegister, tenantPurgeRegisterFile } from './tenant-purge-register.ts';
import {
  addMasterKeyVersion,
  generateMasterKeyFile,
  MasterKeyError,
  type MasterKeySet,
  readMasterKeys,
} from './master-key.ts';

const CHECK_PLAINTEXT = Buffer.from('parley master key check v1');
const checkBinding = (version: number) => `parley/v1/master-check/${version}`;
const tenantKeyBinding = (tenantId: string, purpose: TenantKeyPurpose, version: number) =>
  `parley/v1/tenant-key/${tenantId}/${purpose}/${version}`;
const userKeyBinding = (tenantId: string, userId: string) => `parley/v1/user-key/${tenantId}/${userId}`;
const platformKeyBinding = (purpose: TenantKeyPurpose, version: number) =>
  `parley/v1/platform-key/${purpose}/${version}`;
/** The platform keys have one version each; the master key they are wrapped by rotates (`rotateMaster`). */
const PLATFORM_KEY_VERSION = 1;

/** A user's key was destroyed (crypto-shredding): the fields sealed under it are gone for good. */
export class KeyDestroyedError extends Error {
  constructor() {
    super('the key for this data was destroyed');
    this.name = 'KeyDestroyedError';
  }
}

export interface VersionedKey {
  version: number;
  key: Buffer;
}

export interface KeyringOptions {
  storage: Storage;
  clock: Clock;
  masterKeyFile: string;
  /** `PARLEY_MASTER_KEY`, when the key comes from the environment instead of a file. */
  masterKeyEnvironment?: string | undefined;
  /** May a missing key file be generated? Only when the database holds nothing sealed yet. */
  generateIfMissing: boolean;
  /** The erasure register, kept outside the database (see `ErasureRegister`). */
  erasureLogFile: string;
}

/**
 * The key hierarchy: master key (KEK, outside the database) → per-tenant keys (wrapped by the master key,
 * in `tenant_keys`) → per-user keys (wrapped by the tenant data key, in `user_keys`) → field ciphertexts.
 * Unwrapped keys are cached in memory; user keys only briefly, so a shredded key dies on every node soon.
 */
export class Keyring {
  #master: MasterKeySet;
  readonly #storage: Storage;
  readonly #clock: Clock;
  readonly #file: string;
  readonly #erasures: ErasureRegister;
  readonly #purgedTenants: TenantPurgeRegister;
  readonly #tenantKeys = new KeyCache<Buffer>(50_000, Number.POSITIVE_INFINITY);
  readonly #activeVersions = new KeyCache<number>(50_000, 10_000);
  readonly #userKeys = new KeyCache<Buffer>(100_000, 30_000);
  readonly #platformKeys = new KeyCache<Buffer>(10, Number.POSITIVE_INFINITY);

  private constructor(master: MasterKeySet, options: KeyringOptions) {
    this.#master = master;
    this.#storage = options.storage;
    this.#clock = options.clock;
    this.#file = options.masterKeyFile;
    this.#erasures = new ErasureRegister(options.erasureLogFile);
    this.#purgedTenants = new TenantPurgeRegister(tenantPurgeRegisterFile(options.erasureLogFile));
  }

  /** Loads the master key and proves it matches the database; never starts on a wrong or missing key. */
  static async open(options: KeyringOptions): Promise<Keyring> {
    const checks = await options.storage.withSystem((tx) =>
      tx.selectFrom('master_key_checks').selectAll().orderBy('version').execute(),
    );
    let master = readMasterKeys(options.masterKeyFile, options.masterKeyEnvironment);
    if (!master) {
      if (checks.length === 0 && !options.generateIfMissing) {
        throw new MasterKeyError(
          `master key file ${options.masterKeyFile} not found (start the server once to create it)`,
        );
      }
      if (checks.length > 0) {
        throw new MasterKeyError(
          `master key file ${options.masterKeyFile} is missing, but the database is sealed with master key ` +
            `version(s) ${checks.map((check) => check.version).join(', ')}. Restore the key file or set ` +
            'PARLEY_MASTER_KEY; Parley will not start with a new key.',
        );
      }
      master = generateMasterKeyFile(options.masterKeyFile);
    }
    for (const check of checks) {
      const version = master.get(check.version);
      if (!version) {
        throw new MasterKeyError(
          `master key version ${check.version} is missing from the configured master key`,
        );
      }
      try {
        open(version.key, Buffer.from(check.sealed_check, 'base64'), checkBinding(check.version));
      } catch {
        throw new MasterKeyError(
          `master key version ${check.version} does not match the database (wrong key file or PARLEY_MASTER_KEY)`,
        );
      }
    }
    const keyring = new Keyring(master, options);
    await keyring.#recordChecks(new Set(checks.map((check) => check.version)));
    // A restore may have brought back keys of users erased after the backup was taken.
    await keyring.#erasures.reapply(options.storage);
    // ...and the keys of tenants purged after it: none of their fields opens again.
    await keyring.#purgedTenants.reapply(options.storage);
    return keyring;
  }

  get masterKeys(): MasterKeySet {
    return this.#master;
  }

  /** The erasure register (outside the database), for whole-account erasures to record themselves in. */
  get erasureRegister(): ErasureRegister {
    return this.#erasures;
  }

  /** The purged tenants (outside the database), for the tenant purge to record itself in. */
  get tenantPurgeRegister(): TenantPurgeRegister {
    return this.#purgedTenants;
  }

  /**
   * Forgets every cached key of a purged tenant on this node. Called after the purge registered the tenant, so
   * `tenantKey` refuses it from then on.
   */
  forgetTenant(tenantId: string): void {
    for (const purpose of ['data', 'index'] as const) this.#activeVersions.delete(`${tenantId}/${purpose}`);
    this.#tenantKeys.deleteWhere((key) => key.startsWith(`${tenantId}/`));
    this.#userKeys.deleteWhere((key) => key.startsWith(`${tenantId}/`));
  }

  async #recordChecks(known: Set<number>): Promise<void> {
    const missing = this.#master.versions.filter((version) => !known.has(version.version));
    if (missing.length === 0) return;
    await this.#storage.withSystem(async (tx) => {
      for (const { version, key } of missing) {
        await tx
          .insertInto('master_key_checks')
          .values({
            version,
            sealed_check: seal(key, CHECK_PLAINTEXT, checkBinding(version)).toString('base64'),
            created_at: this.#clock.now(),
          })
          .onConflict((conflict) => conflict.column('version').doNothing())
          .execute();
      }
    });
  }

  /**
   * Seals a key under the active master key version. Wrapping is rare (new tenant or signing keys), so it
   * can afford a stat of the key file: a rotation made by another process is picked up before new keys are
   * wrapped under a version that rotation meant to retire.
   */
  wrapWithMaster(plain: Buffer, binding: string): { wrapped: string; masterVersion: number } {
    this.#reloadIfFileChanged();
    const { version, key } = this.#master.active;
    return { wrapped: seal(key, plain, binding).toString('base64'), masterVersion: version };
  }

  /** Opens a key sealed under any master key version, re-reading the key file once for a version it lacks
   *  (another process may have rotated the master key while this one runs). */
  unwrapWithMaster(wrapped: string, masterVersion: number, binding: string): Buffer {
    let master = this.#master.get(masterVersion);
    if (!master) {
      this.reloadMasterKeys();
      master = this.#master.get(masterVersion);
    }
    if (!master) throw new MasterKeyError(`master key version ${masterVersion} is not available`);
    return open(master.key, Buffer.from(wrapped, 'base64'), binding);
  }

  /** Re-reads the key file (a rotation by another process added a version). Environment keys are fixed. */
  reloadMasterKeys(): void {
    if (this.#master.source !== 'file') return;
    const reloaded = readMasterKeys(this.#file, undefined);
    if (reloaded) this.#master = reloaded;
    this.#fileStamp = fileStamp(this.#file);
  }

  #fileStamp: string | undefined;

  #reloadIfFileChanged(): void {
    if (this.#master.source !== 'file') return;
    this.#fileStamp ??= fileStamp(this.#file);
    if (fileStamp(this.#file) !== this.#fileStamp) this.reloadMasterKeys();
  }

  /** The tenant's key for `purpose`: the given version, or the active (newest) one, created on first use. */
  async tenantKey(
    tx: TenantTx,
    tenantId: string,
    purpose: TenantKeyPurpose,
    version?: number,
  ): Promise<VersionedKey> {
    // A purged tenant's keys are destroyed for good: never opened from a restored copy, never made anew.
    if (this.#purgedTenants.has(tenantId)) throw new KeyDestroyedError();
    const wanted = version ?? (await this.#activeVersion(tx, tenantId, purpose));
    const cacheKey = `${tenantId}/${purpose}/${wanted}`;
    const cached = this.#tenantKeys.get(cacheKey);
    if (cached) return { version: wanted, key: cached };
    const select = () =>
      tx
        .selectFrom('tenant_keys')
        .select(['wrapped_key', 'master_version'])
        .where('tenant_id', '=', tenantId)
        .where('purpose', '=', purpose)
        .where('version', '=', wanted)
        .executeTakeFirst();
    let row = await select();
    if (!row && version === undefined) {
      // The active version was created by a transaction that has not committed yet (or rolled back):
      // inserting the same version waits for it, then either finds its key or makes one.
      await this.#createTenantKey(tx, tenantId, purpose, wanted);
      row = await select();
    }
    if (!row) throw new DecryptionError(`tenant ${purpose} key version ${wanted} does not exist`);
    const key = this.unwrapWithMaster(
      row.wrapped_key,
      row.master_version,
      tenantKeyBinding(tenantId, purpose, wanted),
    );
    this.#tenantKeys.set(cacheKey, key);
    return { version: wanted, key };
  }

  async #activeVersion(tx: TenantTx, tenantId: string, purpose: TenantKeyPurpose): Promise<number> {
    const cacheKey = `${tenantId}/${purpose}`;
    const cached = this.#activeVersions.get(cacheKey);
    if (cached !== undefined) return cached;
    const row = await tx
      .selectFrom('tenant_keys')
      .select((eb) => eb.fn.max('version').as('version'))
      .where('tenant_id', '=', tenantId)
      .where('purpose', '=', purpose)
      .executeTakeFirst();
    if (row?.version == null) return this.#createTenantKey(tx, tenantId, purpose, 1);
    this.#activeVersions.set(cacheKey, row.version);
    return row.version;
  }

  async #createTenantKey(tx: TenantTx, tenantId: string, purpose: TenantKeyPurpose, version: number) {
    // If this transaction rolls back, the key never existed: forget anything cached about it, or a later
    // transaction would seal data under a key the database does not hold.
    onRollback(tx, () => {
      this.#tenantKeys.delete(`${tenantId}/${purpose}/${version}`);
      this.#activeVersions.delete(`${tenantId}/${purpose}`);
    });
    const { wrapped, masterVersion } = this.wrapWithMaster(
      randomBytes(32),
      tenantKeyBinding(tenantId, purpose, version),
    );
    // A concurrent creator may win the race; its key is then the one everybody uses.
    await tx
      .insertInto('tenant_keys')
      .values({
        tenant_id: tenantId,
        purpose,
        version,
        wrapped_key: wrapped,
        master_version: masterVersion,
        created_at: this.#clock.now(),
        retired_at: null,
      })
      .onConflict((conflict) => conflict.columns(['tenant_id', 'purpose', 'version']).doNothing())
      .execute();
    return version;
  }

  /**
   * The platform's own key for `purpose`, for data of no tenant (operator staff, law-enforcement requests):
   * wrapped by the master key in `platform_keys` like a tenant's keys, created on first use. Its index key
   * stays the same across master key rotations, so blind indexes over platform data keep matching.
   */
  async platformKey(tx: SystemTx, purpose: TenantKeyPurpose): Promise<VersionedKey> {
    const version = PLATFORM_KEY_VERSION;
    const cacheKey = `${purpose}/${version}`;
    const cached = this.#platformKeys.get(cacheKey);
    if (cached) return { version, key: cached };
    const select = () =>
      tx
        .selectFrom('platform_keys')
        .select(['wrapped_key', 'master_version'])
        .where('purpose', '=', purpose)
        .where('version', '=', version)
        .executeTakeFirst();
    let row = await select();
    if (!row) {
      onRollback(tx, () => {
        this.#platformKeys.delete(cacheKey);
      });
      const { wrapped, masterVersion } = this.wrapWithMaster(
        randomBytes(32),
        platformKeyBinding(purpose, version),
      );
      // A concurrent creator may win the race; its key is then the one everybody uses.
      await tx
        .insertInto('platform_keys')
        .values({
          purpose,
          version,
          wrapped_key: wrapped,
          master_version: masterVersion,
          created_at: this.#clock.now(),
        })
        .onConflict((conflict) => conflict.columns(['purpose', 'version']).doNothing())
        .execute();
      row = await select();
    }
    if (!row) throw new DecryptionError(`platform ${purpose} key does not exist`);
    const key = this.unwrapWithMaster(
      row.wrapped_key,
      row.master_version,
      platformKeyBinding(purpose, version),
    );
    this.#platformKeys.set(cacheKey, key);
    return { version, key };
  }

  /** Makes a new data-key version the one new writes use; older data moves over via `reencryptBatch`. */
  async rotateTenantDataKey(tx: TenantTx, tenantId: string): Promise<number> {
    this.#activeVersions.delete(`${tenantId}/data`);
    const current = await this.#activeVersion(tx, tenantId, 'data');
    const next = await this.#createTenantKey(tx, tenantId, 'data', current + 1);
    this.#activeVersions.delete(`${tenantId}/data`);
    return next;
  }

  /** Creates the user's personal key; call once when the user is created. */
  async createUserKey(tx: TenantTx, tenantId: string, userId: string): Promise<Buffer> {
    const userKey = randomBytes(32);
    const dataKey = await this.tenantKey(tx, tenantId, 'data');
    await tx
      .insertInto('user_keys')
      .values({
        tenant_id: tenantId,
        user_id: userId,
        wrapped_key: seal(dataKey.key, userKey, userKeyBinding(tenantId, userId)).toString('base64'),
        data_key_version: dataKey.version,
        created_at: this.#clock.now(),
        destroyed_at: null,
      })
      .execute();
    this.#userKeys.set(`${tenantId}/${userId}`, userKey);
    return userKey;
  }

  async userKey(tx: TenantTx, tenantId: string, userId: string): Promise<Buffer> {
    if (this.#purgedTenants.has(tenantId)) throw new KeyDestroyedError();
    const cacheKey = `${tenantId}/${userId}`;
    const cached = this.#userKeys.get(cacheKey);
    if (cached) return cached;
    const row = await tx
      .selectFrom('user_keys')
      .select(['wrapped_key', 'data_key_version'])
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) throw new DecryptionError('user key does not exist');
    if (row.wrapped_key === null) throw new KeyDestroyedError();
    const dataKey = await this.tenantKey(tx, tenantId, 'data', row.data_key_version);
    const key = open(dataKey.key, Buffer.from(row.wrapped_key, 'base64'), userKeyBinding(tenantId, userId));
    this.#userKeys.set(cacheKey, key);
    return key;
  }

  /** Crypto-shredding: the user's key is overwritten, so every copy of their sealed fields is unreadable. */
  async destroyUserKey(tx: TenantTx, tenantId: string, userId: string): Promise<void> {
    // Registered first: should the transaction fail after this, the erasure is re-applied at start-up,
    // which errs on the side the user asked for.
    this.#erasures.record({ tenantId, userId, at: this.#clock.now() });
    await tx
      .updateTable('user_keys')
      .set({ wrapped_key: null, destroyed_at: this.#clock.now() })
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .execute();
    this.#userKeys.delete(`${tenantId}/${userId}`);
  }

  /**
   * Moves up to `batchSize` user keys still wrapped by an older tenant data key onto the active one.
   * Returns how many moved; 0 means the tenant is fully on its newest key.
   */
  async reencryptBatch(tenantId: string, batchSize: number): Promise<number> {
    return this.#storage.withTenant(tenantId, async (tx) => {
      const active = await this.tenantKey(tx, tenantId, 'data');
      const stale = await tx
        .selectFrom('user_keys')
        .select(['user_id', 'wrapped_key', 'data_key_version'])
        .where('tenant_id', '=', tenantId)
        .where('data_key_version', '<', active.version)
        .where('wrapped_key', 'is not', null)
        .limit(batchSize)
        .execute();
      for (const row of stale) {
        const old = await this.tenantKey(tx, tenantId, 'data', row.data_key_version);
        const binding = userKeyBinding(tenantId, row.user_id);
        const userKey = open(old.key, Buffer.from(row.wrapped_key ?? '', 'base64'), binding);
        await tx
          .updateTable('user_keys')
          .set({
            wrapped_key: seal(active.key, userKey, binding).toString('base64'),
            data_key_version: active.version,
          })
          .where('tenant_id', '=', tenantId)
          .where('user_id', '=', row.user_id)
          .execute();
      }
      return stale.length;
    });
  }

  /**
   * Adds a new master key version to the key file and re-wraps every tenant key, platform key, signing key and
   * staff TOTP secret under it,
   * one tenant per transaction, while servers keep running (they re-read the file on an unknown version).
   */
  async rotateMaster(): Promise<{ version: number; rewrapped: number }> {
    if (this.#master.source !== 'file') {
      throw new MasterKeyError(
        'the master key comes from PARLEY_MASTER_KEY; add a version there and restart',
      );
    }
    this.#master = addMasterKeyVersion(this.#file, this.#master);
    await this.#recordChecks(new Set(this.#master.versions.slice(0, -1).map((entry) => entry.version)));
    const active = this.#master.active.version;
    const tenants = await this.#storage.withSystem((tx) => tx.selectFrom('tenants').select('id').execute());
    let rewrapped = 0;
    for (const { id: tenantId } of tenants) {
      rewrapped += await this.#storage.withTenant(tenantId, async (tx) => {
        const rows = await tx
          .selectFrom('tenant_keys')
          .selectAll()
          .where('tenant_id', '=', tenantId)
          .where('master_version', '<', active)
          .execute();
        for (const row of rows) {
          const binding = tenantKeyBinding(tenantId, row.purpose, row.version);
          const plain = this.unwrapWithMaster(row.wrapped_key, row.master_version, binding);
          const { wrapped, masterVersion } = this.wrapWithMaster(plain, binding);
          await tx
            .updateTable('tenant_keys')
            .set({ wrapped_key: wrapped, master_version: masterVersion })
            .where('tenant_id', '=', tenantId)
            .where('purpose', '=', row.purpose)
            .where('version', '=', row.version)
            .execute();
        }
        return rows.length;
      });
    }
    rewrapped += await this.#rewrapSigningKeys(active);
    rewrapped += await this.#rewrapStaffTotpSecrets(active);
    rewrapped += await this.#rewrapPlatformKeys(active);
    return { version: active, rewrapped };
  }

  /** Operator staff TOTP secrets (platform/) are wrapped under the master key too: they follow it. */
  async #rewrapStaffTotpSecrets(active: number): Promise<number> {
    return this.#storage.withSystem(async (tx) => {
      const rows = await tx
        .selectFrom('staff_accounts')
        .select(['id', 'totp_secret', 'totp_master_version'])
        .where('totp_master_version', '<', active)
        .execute();
      for (const row of rows) {
        const binding = staffTotpBinding(row.id);
        const plain = this.unwrapWithMaster(row.totp_secret, row.totp_master_version, binding);
        const { wrapped, masterVersion } = this.wrapWithMaster(plain, binding);
        await tx
          .updateTable('staff_accounts')
          .set({ totp_secret: wrapped, totp_master_version: masterVersion })
          .where('id', '=', row.id)
          .execute();
      }
      return rows.length;
    });
  }

  /** The platform's own keys (`platformKey`) follow the master key too. */
  async #rewrapPlatformKeys(active: number): Promise<number> {
    return this.#storage.withSystem(async (tx) => {
      const rows = await tx
        .selectFrom('platform_keys')
        .selectAll()
        .where('master_version', '<', active)
        .execute();
      for (const row of rows) {
        const binding = platformKeyBinding(row.purpose, row.version);
        const plain = this.unwrapWithMaster(row.wrapped_key, row.master_version, binding);
        const { wrapped, masterVersion } = this.wrapWithMaster(plain, binding);
        await tx
          .updateTable('platform_keys')
          .set({ wrapped_key: wrapped, master_version: masterVersion })
          .where('purpose', '=', row.purpose)
          .where('version', '=', row.version)
          .execute();
      }
      return rows.length;
    });
  }

  async #rewrapSigningKeys(active: number): Promise<number> {
    return this.#storage.withSystem(async (tx) => {
      const rows = await tx
        .selectFrom('signing_keys')
        .selectAll()
        .where('master_version', '<', active)
        .execute();
      for (const row of rows) {
        const binding = signingKeyBinding(row.id);
        const plain = this.unwrapWithMaster(row.wrapped_private_key, row.master_version, binding);
        const { wrapped, masterVersion } = this.wrapWithMaster(plain, binding);
        await tx
          .updateTable('signing_keys')
          .set({ wrapped_private_key: wrapped, master_version: masterVersion })
          .where('id', '=', row.id)
          .execute();
      }
      return rows.length;
    });
  }
}

function fileStamp(file: string): string | undefined {
  try {
    const stats = statSync(file);
    return `${stats.mtimeMs}/${stats.size}/${stats.ino}`;
  } catch {
    return undefined;
  }
}

export const signingKeyBinding = (keyId: string) => `parley/v1/signing-key/${keyId}`;
/** What an operator staff member's TOTP secret is bound to when wrapped under the master key. */
export const staffTotpBinding = (staffId: string) => `parley/v1/staff-totp/${staffId}`;
