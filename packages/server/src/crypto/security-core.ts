import type { Clock } from '../clock.ts';
import type { Storage } from '../storage/database.ts';
import { BlindIndex } from './blind-index.ts';
import { FieldCipher } from './field-cipher.ts';
import { Keyring } from './keyring.ts';
import { sealLegacyPlaintext } from './plaintext-sealer.ts';
import { SigningKeys } from './signing-keys.ts';

/** The crypto services every feature uses, opened together at start-up. */
export interface SecurityCore {
  keyring: Keyring;
  fieldCipher: FieldCipher;
  blindIndex: BlindIndex;
  signingKeys: SigningKeys;
}

export interface SecurityCoreOptions {
  storage: Storage;
  clock: Clock;
  masterKeyFile: string;
  masterKeyEnvironment?: string | undefined;
  generateIfMissing: boolean;
  erasureLogFile: string;
}

export async function openSecurityCore(options: SecurityCoreOptions): Promise<SecurityCore> {
  const keyring = await Keyring.open(options);
  const fieldCipher = new FieldCipher(keyring);
  const blindIndex = new BlindIndex(keyring);
  // Values stored before their column was sealed (migration 0035) are sealed before anything reads them.
  await sealLegacyPlaintext(options.storage, fieldCipher, blindIndex);
  return {
    keyring,
    fieldCipher,
    blindIndex,
    signingKeys: await SigningKeys.open(options.storage, keyring, options.clock),
  };
}
