import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import type { Storage } from '../storage/database.ts';
import { type Keyring, signingKeyBinding } from './keyring.ts';

export interface Signature {
  keyId: string;
  signature: string;
}

/**
 * Ed25519 keys that sign audit checkpoints and audit anchors. The private key is sealed by the master key,
 * so someone who can write the database but lacks the master key cannot forge a signature. A key is trusted
 * for verification only when its sealed private key opens under the master key and matches its public key:
 * otherwise a database writer could add a key pair of their own to `signing_keys` and sign with it. Loaded
 * once at start-up: signing inside a transaction must not touch the database (SQLite has one connection,
 * and it is busy with that transaction).
 */
export class SigningKeys {
  private constructor(
    private readonly storage: Storage,
    private readonly keyring: Keyring,
    private readonly current: { id: string; privateKey: KeyObject },
    private readonly publicKeys: Map<string, KeyObject>,
  ) {}

  /** The id of the key `sign` uses now. */
  get currentKeyId(): string {
    return this.current.id;
  }

  static async open(storage: Storage, keyring: Keyring, clock: Clock): Promise<SigningKeys> {
    const rows = await storage.withSystem((tx) =>
      tx.selectFrom('signing_keys').selectAll().orderBy('created_at').execute(),
    );
    // Other keys are trusted one by one, on first use (see `verify`).
    const publicKeys = new Map<string, KeyObject>();
    const active = rows.filter((row) => row.retired_at === null).at(-1);
    if (active) {
      const privateKey = unsealPrivateKey(keyring, active);
      publicKeys.set(active.id, createPublicKey(privateKey));
      return new SigningKeys(storage, keyring, { id: active.id, privateKey }, publicKeys);
    }
    const id = newId();
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const { wrapped, masterVersion } = keyring.wrapWithMaster(
      privateKey.export({ format: 'der', type: 'pkcs8' }),
      signingKeyBinding(id),
    );
    await storage.withSystem((tx) =>
      tx
        .insertInto('signing_keys')
        .values({
          id,
          public_key: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
          wrapped_private_key: wrapped,
          master_version: masterVersion,
          created_at: clock.now(),
          retired_at: null,
        })
        .execute(),
    );
    publicKeys.set(id, publicKey);
    return new SigningKeys(storage, keyring, { id, privateKey }, publicKeys);
  }

  sign(data: Buffer): Signature {
    return {
      keyId: this.current.id,
      signature: sign(null, data, this.current.privateKey).toString('base64'),
    };
  }

  /**
   * Verifies with any trusted key ever used here, loading keys created by other nodes (or before a
   * rotation) on demand. A key whose sealed private key does not open under the master key, or does not
   * match its public key, verifies nothing.
   */
  async verify(keyId: string, data: Buffer, signature: string): Promise<boolean> {
    let publicKey = this.publicKeys.get(keyId);
    if (!publicKey) {
      const row = await this.storage.withSystem((tx) =>
        tx.selectFrom('signing_keys').selectAll().where('id', '=', keyId).executeTakeFirst(),
      );
      if (!row) return false;
      const trusted = trustedPublicKey(this.keyring, row);
      if (!trusted) return false;
      publicKey = trusted;
      this.publicKeys.set(keyId, publicKey);
    }
    return verify(null, data, publicKey, Buffer.from(signature, 'base64'));
  }
}

interface SealedKeyRow {
  id: string;
  public_key: string;
  wrapped_private_key: string;
  master_version: number;
}

function unsealPrivateKey(keyring: Keyring, row: SealedKeyRow): KeyObject {
  const der = keyring.unwrapWithMaster(
    row.wrapped_private_key,
    row.master_version,
    signingKeyBinding(row.id),
  );
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

/** The row's public key, when its sealed private key opens under the master key and belongs to it. */
function trustedPublicKey(keyring: Keyring, row: SealedKeyRow): KeyObject | undefined {
  try {
    const publicKey = createPublicKey(unsealPrivateKey(keyring, row));
    const der = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    return der === row.public_key ? publicKey : undefined;
  } catch {
    return undefined;
  }
}
