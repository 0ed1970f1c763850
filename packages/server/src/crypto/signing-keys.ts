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
 * Ed25519 keys that sign audit checkpoints. The private key is sealed by the master key, so someone who
 * can write the database but lacks the master key cannot forge a checkpoint; public keys are stored in the
 * clear so anyone can verify. Loaded once at start-up: signing inside a transaction must not touch the
 * database (SQLite has one connection, and it is busy with that transaction).
 */
export class SigningKeys {
  private constructor(
    private readonly storage: Storage,
    private readonly current: { id: string; privateKey: KeyObject },
    private readonly publicKeys: Map<string, KeyObject>,
  ) {}

  static async open(storage: Storage, keyring: Keyring, clock: Clock): Promise<SigningKeys> {
    const rows = await storage.withSystem((tx) =>
      tx.selectFrom('signing_keys').selectAll().orderBy('created_at').execute(),
    );
    const publicKeys = new Map(rows.map((row) => [row.id, toPublicKey(row.public_key)]));
    const active = rows.filter((row) => row.retired_at === null).at(-1);
    if (active) {
      const der = keyring.unwrapWithMaster(
        active.wrapped_private_key,
        active.master_version,
        signingKeyBinding(active.id),
      );
      const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      return new SigningKeys(storage, { id: active.id, privateKey }, publicKeys);
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
    return new SigningKeys(storage, { id, privateKey }, publicKeys);
  }

  sign(data: Buffer): Signature {
    return {
      keyId: this.current.id,
      signature: sign(null, data, this.current.privateKey).toString('base64'),
    };
  }

  /** Verifies with any key ever used here, loading keys created by other nodes on demand. */
  async verify(keyId: string, data: Buffer, signature: string): Promise<boolean> {
    let publicKey = this.publicKeys.get(keyId);
    if (!publicKey) {
      const row = await this.storage.withSystem((tx) =>
        tx.selectFrom('signing_keys').select('public_key').where('id', '=', keyId).executeTakeFirst(),
      );
      if (!row) return false;
      publicKey = toPublicKey(row.public_key);
      this.publicKeys.set(keyId, publicKey);
    }
    return verify(null, data, publicKey, Buffer.from(signature, 'base64'));
  }
}

const toPublicKey = (base64: string): KeyObject =>
  createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' });
