import type { StaffRole } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import { type AuditInput, PLATFORM_CHAIN_ID } from '../compliance/audit/audit-entry.ts';
import type { AuditLog } from '../compliance/audit/audit-log.ts';
import type { BlindIndex } from '../crypto/blind-index.ts';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import { type Keyring, staffTotpBinding } from '../crypto/keyring.ts';
import { hashToken, mintToken, tokenPrefixes } from '../crypto/token.ts';
import { createTotpEnrollment, verifyTotp } from '../identity/mfa/totp.ts';
import type { Counter } from '../counters/counter.ts';
import { AccountLockout, type LockoutKey, lockoutKeyForStaff } from '../identity/passwords/lockout.ts';
import type { PasswordHasher } from '../identity/passwords/password-hasher.ts';
import { DEFAULT_PASSWORD_POLICY } from '../identity/passwords/password-policy.ts';
import { newId } from '../ids.ts';
import type { Storage, SystemTx } from '../storage/database.ts';
import { type StaffAccountRow, staffStore } from './staff-store.ts';

/** Who is calling a platform route: resolved from a `parley_st_…` token. Never a tenant principal. */
export interface StaffPrincipal {
  staffId: string;
  sessionId: string;
  role: StaffRole;
}

export type StaffAuthFailure = 'invalid' | 'expired' | 'revoked';

export interface StaffServiceDeps {
  storage: Storage;
  /** Counts failed sign-ins per address (in Redis across nodes), for the lockout. */
  counter: Counter;
  keyring: Pick<Keyring, 'wrapWithMaster' | 'unwrapWithMaster'>;
  /** Seals and opens the address under the platform key; staff are found by its blind index. */
  fieldCipher: Pick<FieldCipher, 'sealForPlatform' | 'openForPlatform'>;
  blindIndex: Pick<BlindIndex, 'computeForPlatform'>;
  hasher: Pick<PasswordHasher, 'hash' | 'verify' | 'verifyUnknownUser'>;
  audit: AuditLog;
  clock: Clock;
}

/** How long `parley staff create`'s enrolment token stays usable. */
export const STAFF_ENROLMENT_TTL_MS = 72 * 3600_000;
/** Staff sessions last a working day and are never refreshed: sign in again (password and TOTP) after. */
export const STAFF_SESSION_TTL_MS = 8 * 3600_000;
/** Staff passwords: long, because staff hold the keys to support access. */
export const STAFF_PASSWORD_MIN_LENGTH = 15;

/** Where a staff member's sealed address lives (bound into its envelope). */
export const staffEmailAt = (staffId: string) =>
  ({ table: 'staff_accounts', column: 'email', rowId: staffId }) as const;

/** Whether a bearer token is a staff token (and so must never reach a tenant route). */
export const isStaffToken = (token: string): boolean => token.startsWith(tokenPrefixes.staff);

/**
 * Operator staff: accounts created by the CLI, enrolled with a password and a TOTP secret (MFA is mandatory:
 * no token is ever issued without a current code), signed in to opaque sessions of their own, every act
 * recorded in the platform audit chain. Staff belong to no tenant; this service never opens a tenant's data.
 */
export function createStaffService({
  storage,
  counter,
  keyring,
  fieldCipher,
  blindIndex,
  hasher,
  audit,
  clock,
}: StaffServiceDeps) {
  const lockout = new AccountLockout(counter);
  // The tenants' default back-off: 5 failures, then 30 s growing to an hour.
  const lockoutPolicy = DEFAULT_PASSWORD_POLICY;

  /** Appends to the platform chain inside `tx` (last: on PostgreSQL it locks the chain head). */
  async function record(tx: SystemTx, input: AuditInput): Promise<void> {
    await audit.append(await storage.enterTenant(tx, PLATFORM_CHAIN_ID), PLATFORM_CHAIN_ID, input);
  }

  function totpSecretOf(row: StaffAccountRow): string {
    return keyring
      .unwrapWithMaster(row.totp_secret, row.totp_master_version, staffTotpBinding(row.id))
      .toString('utf8');
  }

  /**
   * A failed sign-in: counted towards the address's lockout and recorded in its own transaction (the refusal
   * itself writes nothing else).
   */
  async function refuseSignIn(key: LockoutKey, staffId: string | undefined, reason: string): Promise<never> {
    await lockout.registerFailure(key, lockoutPolicy);
    await storage.withSystem((tx) =>
      record(tx, {
        actor: { type: 'staff', id: staffId },
        action: 'staff.sign_in_failed',
        outcome: 'failure',
        details: { reason },
      }),
    );
    throw new AppError(reason === 'code_reused' ? 'mfa_code_reused' : 'invalid_credentials');
  }

  return {
    /**
     * Creates a staff account (the CLI's `parley staff create`): answers the one-time enrolment token and the
     * TOTP secret to hand to the new staff member over a trusted channel. Neither is stored in the clear.
     */
    async create(input: { email: string; role: StaffRole }) {
      const email = input.email.trim().toLowerCase();
      if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 320)
        throw new AppError('validation_failed', 'The e-mail address is not valid.');
      const id = newId();
      const enrolment = await createTotpEnrollment({ issuer: 'Parley staff', accountName: email });
      const { wrapped, masterVersion } = keyring.wrapWithMaster(
        Buffer.from(enrolment.secret, 'utf8'),
        staffTotpBinding(id),
      );
      const enrolmentToken = mintToken('staffEnrolment');
      const now = clock.now();
      await storage.withSystem(async (tx) => {
        const emailIndex = await blindIndex.computeForPlatform(tx, 'email', email);
        if (await staffStore.accountByEmailIndex(tx, emailIndex))
          throw new AppError('conflict', 'A staff account with this e-mail address exists.');
        await staffStore.insertAccount(tx, {
          id,
          email: await fieldCipher.sealForPlatform(tx, staffEmailAt(id), email),
          email_index: emailIndex,
          role: input.role,
          password_hash: null,
          totp_secret: wrapped,
          totp_master_version: masterVersion,
          totp_last_step: null,
          enrolment_hash: hashToken(enrolmentToken),
          enrolment_expires_at: now + STAFF_ENROLMENT_TTL_MS,
          enrolled_at: null,
          created_at: now,
          disabled_at: null,
        });
        await record(tx, {
          actor: { type: 'system' },
          action: 'staff.created',
          target: { type: 'staff', id },
          outcome: 'success',
          details: { role: input.role },
        });
      });
      return {
        id,
        enrolmentToken,
        totpSecret: enrolment.secret,
        otpauthUri: enrolment.otpauthUri,
        enrolmentExpiresAt: now + STAFF_ENROLMENT_TTL_MS,
      };
    },

    /** Enrolment: the one-time token, a new password and a current TOTP code (proving the authenticator). */
    async enrol(input: { enrolmentToken: string; password: string; code: string }): Promise<void> {
      if (input.password.length < STAFF_PASSWORD_MIN_LENGTH)
        throw new AppError(
          'password_policy',
          `Staff passwords have at least ${STAFF_PASSWORD_MIN_LENGTH} characters.`,
        );
      const hash = hashToken(input.enrolmentToken);
      const now = clock.now();
      const account = await storage.withSystem((tx) => staffStore.accountByEnrolmentHash(tx, hash));
      if (!account || account.disabled_at !== null || (account.enrolment_expires_at ?? 0) <= now)
        throw new AppError('staff_enrolment_invalid');
      const totp = verifyTotp({ secret: totpSecretOf(account), code: input.code, now, lastUsedStep: null });
      if (!totp.ok) throw new AppError('invalid_credentials', 'The TOTP code is not valid.');
      const passwordHash = await hasher.hash(input.password);
      await storage.withSystem(async (tx) => {
        const done = await staffStore.completeEnrolment(tx, account.id, hash, {
          password_hash: passwordHash,
          totp_last_step: totp.step,
          enrolled_at: now,
        });
        if (!done) throw new AppError('staff_enrolment_invalid');
        await record(tx, {
          actor: { type: 'staff', id: account.id },
          action: 'staff.enrolled',
          target: { type: 'staff', id: account.id },
          outcome: 'success',
        });
      });
    },

    /**
     * Password and TOTP code, always both: there is no sign-in without MFA. Unknown, unenrolled and disabled
     * accounts cost the same password check and answer alike.
     */
    async signIn(input: { email: string; password: string; code: string }) {
      const email = input.email.trim().toLowerCase();
      const key = lockoutKeyForStaff(hashToken(email));
      const lockedFor = await lockout.lockedForSeconds(key, lockoutPolicy);
      const account = await storage.withSystem(async (tx) =>
        staffStore.accountByEmailIndex(tx, await blindIndex.computeForPlatform(tx, 'email', email)),
      );
      if (lockedFor > 0) {
        // Nothing is judged while locked, known address or not.
        await storage.withSystem((tx) =>
          record(tx, {
            actor: { type: 'staff', id: account?.id },
            action: 'staff.sign_in_refused_locked',
            outcome: 'denied',
          }),
        );
        throw new AppError('account_locked', undefined, { 'retry-after': String(lockedFor) });
      }
      if (!account?.password_hash || account.disabled_at !== null) {
        await hasher.verifyUnknownUser(input.password);
        return refuseSignIn(key, account?.id, 'invalid_credentials');
      }
      if (!(await hasher.verify(account.password_hash, input.password)))
        return refuseSignIn(key, account.id, 'invalid_credentials');
      const now = clock.now();
      const totp = verifyTotp({
        secret: totpSecretOf(account),
        code: input.code,
        now,
        lastUsedStep: account.totp_last_step,
      });
      if (!totp.ok)
        return refuseSignIn(key, account.id, totp.reason === 'replayed' ? 'code_reused' : 'invalid_code');
      const accessToken = mintToken('staff');
      const sessionId = newId();
      const expiresAt = now + STAFF_SESSION_TTL_MS;
      const issued = await storage.withSystem(async (tx) => {
        if (!(await staffStore.useTotpStep(tx, account.id, totp.step))) return false;
        await staffStore.insertSession(tx, {
          id: sessionId,
          staff_id: account.id,
          access_hash: hashToken(accessToken),
          created_at: now,
          expires_at: expiresAt,
          revoked_at: null,
        });
        await record(tx, {
          actor: { type: 'staff', id: account.id, sessionId },
          action: 'staff.signed_in',
          outcome: 'success',
        });
        return true;
      });
      // Another sign-in used this code first.
      if (!issued) return refuseSignIn(key, account.id, 'code_reused');
      await lockout.clear(key);
      return { accessToken, expiresAt };
    },

    /** Resolves a staff bearer token; tenant tokens and anything else are `invalid`. */
    async authenticate(token: string): Promise<StaffPrincipal | StaffAuthFailure> {
      if (!isStaffToken(token)) return 'invalid';
      const row = await storage.withSystem((tx) => staffStore.sessionByHash(tx, hashToken(token)));
      if (!row) return 'invalid';
      if (row.revokedAt !== null || row.disabledAt !== null) return 'revoked';
      if (row.expiresAt <= clock.now()) return 'expired';
      return { staffId: row.staffId, sessionId: row.sessionId, role: row.role };
    },

    async signOut(principal: StaffPrincipal): Promise<void> {
      await storage.withSystem(async (tx) => {
        await staffStore.revokeSession(tx, principal.sessionId, clock.now());
        await record(tx, {
          actor: { type: 'staff', id: principal.staffId, sessionId: principal.sessionId },
          action: 'staff.signed_out',
          outcome: 'success',
        });
      });
    },

    async list() {
      return storage.withSystem(async (tx) => {
        const accounts = [];
        for (const row of await staffStore.listAccounts(tx)) {
          accounts.push({
            id: row.id,
            email: await fieldCipher.openForPlatform(tx, staffEmailAt(row.id), row.email),
            role: row.role,
            enrolled: row.enrolled_at !== null,
            createdAt: new Date(row.created_at).toISOString(),
          });
        }
        return accounts;
      });
    },
  };
}

export type StaffService = ReturnType<typeof createStaffService>;
