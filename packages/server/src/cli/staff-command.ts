import { type StaffRole, staffRoles } from '@parley/protocol';
import { Command } from 'commander';
import { systemClock } from '../clock.ts';
import type { StaffService } from '../platform/staff-service.ts';
import { withCliSecurity } from './cli-storage.ts';

async function withStaffService<T>(work: (staff: StaffService) => Promise<T>): Promise<T> {
  // Loaded on use, not at start-up: `parley --help` and the other commands need none of it.
  const [{ createStaffService }, { AuditLog }, { PasswordHasher }, { MemoryCounter }] = await Promise.all([
    import('../platform/staff-service.ts'),
    import('../compliance/audit/audit-log.ts'),
    import('../identity/passwords/password-hasher.ts'),
    import('../counters/memory-counter.ts'),
  ]);
  return withCliSecurity((storage, security) => {
    const audit = new AuditLog({
      fieldCipher: security.fieldCipher,
      signingKeys: security.signingKeys,
      clock: systemClock,
      dialect: storage.dialect,
    });
    return work(
      createStaffService({
        storage,
        // The CLI signs no one in: its lockout counts nothing.
        counter: new MemoryCounter(systemClock),
        keyring: security.keyring,
        fieldCipher: security.fieldCipher,
        blindIndex: security.blindIndex,
        hasher: new PasswordHasher(),
        audit,
        clock: systemClock,
      }),
    );
  });
}

const printJson = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

function parseRole(role: string): StaffRole {
  if (!(staffRoles as readonly string[]).includes(role))
    throw new Error(`unknown staff role "${role}" (one of ${staffRoles.join(', ')})`);
  return role as StaffRole;
}

export function staffCommand(): Command {
  const staff = new Command('staff').description('Operator staff accounts (they belong to no tenant)');
  staff
    .command('create')
    .description(
      'Create a staff account; prints, once, its enrolment token and TOTP secret for the new staff member',
    )
    .requiredOption('--email <email>', 'the staff member’s e-mail address (they sign in with it)')
    .requiredOption('--role <role>', `one of ${staffRoles.join(', ')}`)
    .action(async ({ email, role }: { email: string; role: string }) => {
      const created = await withStaffService((service) => service.create({ email, role: parseRole(role) }));
      printJson({
        id: created.id,
        role,
        enrolmentToken: created.enrolmentToken,
        totpSecret: created.totpSecret,
        otpauthUri: created.otpauthUri,
        enrolmentExpiresAt: new Date(created.enrolmentExpiresAt).toISOString(),
        next: 'Hand these over a trusted channel. The staff member adds the secret to an authenticator app and calls POST /v1/platform/enrolment with the token, a password and a current code. Neither is shown again.',
      });
    });
  staff
    .command('list')
    .description('List staff accounts as JSON (no secrets)')
    .action(async () => {
      printJson(await withStaffService((service) => service.list()));
    });
  return staff;
}
