import { Command } from 'commander';
import { systemClock } from '../clock.ts';
import type { KeyManagement } from '../crypto/key-management.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { Storage } from '../storage/database.ts';
import { recordCliAccess } from './cli-access-record.ts';
import { withCliSecurity } from './cli-storage.ts';

/** Loaded on use, not at start-up: `parley --help` and the other commands need none of it. */
async function keyManagement(storage: Storage, keyring: Keyring): Promise<KeyManagement> {
  const { createKeyManagement } = await import('../crypto/key-management.ts');
  return createKeyManagement({ storage, keyring, clock: systemClock });
}

const printJson = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

export function keysCommand(): Command {
  const keys = new Command('keys').description('Inspect and rotate encryption keys');
  keys
    .command('status')
    .description('Master key versions, tenant keys, their ages and what uses them (no key material)')
    .action(async () => {
      printJson(
        await withCliSecurity(async (storage, security) =>
          (await keyManagement(storage, security.keyring)).status(),
        ),
      );
    });
  keys
    .command('rotate-master')
    .description('Add a master key version and re-wrap every tenant and signing key under it (online)')
    .action(async () => {
      printJson(await withCliSecurity((_storage, security) => security.keyring.rotateMaster()));
    });
  keys
    .command('rotate-data-key')
    .description('Start using a new data key for a tenant; old data moves over in the background')
    .requiredOption('--tenant <id>', 'tenant id')
    .action(async ({ tenant }: { tenant: string }) => {
      const version = await withCliSecurity(async (storage, security) => {
        await recordCliAccess(storage, security, 'keys rotate-data-key', [tenant]);
        return (await keyManagement(storage, security.keyring)).rotateDataKey(tenant);
      });
      printJson({ tenantId: tenant, dataKeyVersion: version, reencryption: 'pending' });
    });
  keys
    .command('reencrypt')
    .description('Run the re-encryption the server runs in the background, now, to completion')
    .option('--batch <n>', 'user keys per transaction', '500')
    .action(async ({ batch }: { batch: string }) => {
      printJson(
        await withCliSecurity(async (storage, security) => {
          const pending = await storage.withSystem((tx) =>
            tx.selectFrom('tenants').select('id').where('key_rotation_pending', '=', 1).execute(),
          );
          await recordCliAccess(
            storage,
            security,
            'keys reencrypt',
            pending.map((row) => row.id),
          );
          return (await keyManagement(storage, security.keyring)).reencryptPending(Number(batch));
        }),
      );
    });
  return keys;
}
