import { setTimeout as delay } from 'node:timers/promises';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { AuditInput } from '../../compliance/audit/audit-entry.ts';
import type { AuditLog } from '../../compliance/audit/audit-log.ts';
import type { RequestContext } from '../../compliance/audit/request-context.ts';
import type { Counter } from '../../counters/counter.ts';
import type { SecurityCore } from '../../crypto/security-core.ts';
import { hashToken, mintTenantToken, tenantOfToken } from '../../crypto/token.ts';
import { MailDispatch } from '../../notifications/mail-dispatch.ts';
import type { Mailer, MailKind } from '../../notifications/mailer.ts';
import { type OutboxMessage, readOutbox } from '../../notifications/outbox-mailer.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import { emailTokenStore } from './email-token-store.ts';
import { AccountLockout, lockoutKeyForUser } from '../passwords/lockout.ts';
import { assertPasswordAllowed, loadPasswordRules } from '../passwords/password-check.ts';
import type { PasswordHasher } from '../passwords/password-hasher.ts';
import {
  type MailContent,
  type NoticeDetails,
  passwordResetMail,
  type SecurityNoticeKind,
  securityNoticeMail,
  verificationMail,
} from './security-mails.ts';
import type { SessionService } from '../sessions/session-service.ts';
import type { UserService } from '../user-service.ts';
import { type UserRow, userStore } from '../user-store.ts';
import { userTokenStore } from '../user-token-store.ts';

export interface EmailFlowsServiceDeps {
  storage: Storage;
  security: SecurityCore;
  hasher: PasswordHasher;
  sessions: SessionService;
  users: UserService;
  audit: AuditLog;
  counter: Counter;
  clock: Clock;
  mailer: Mailer;
  /** Base of the links in mails: configured, or the server's own URL. Never a request's Host header. */
  publicUrl: () => string;
  /** Told (kind only) about mail that could not be handed over; the request that caused it has answered. */
  onDeliveryFailure: (kind: MailKind, error: unknown) => void;
}

const RESET_TTL_MS = 30 * 60_000;
const VERIFY_TTL_MS = 24 * 3600_000;
/** Mailed links per user and purpose per hour: a public form must not become a way to flood an inbox. */
const LINKS_PER_HOUR = 5;
const HOUR_MS = 3600_000;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/**
 * Reset requests being worked on in the background at most; past it the form answers 429 to everyone (the
 * limit depends on load only, never on the address asked about).
 */
const MAX_PENDING_RESETS = 200;
/**
 * How long after the answer the reset work starts. It must not start in the same turn of the event loop:
 * on SQLite (a synchronous driver) a transaction runs without yielding, and would hold up the answer's
 * delivery for exactly as long as the work for a known address takes longer.
 */
const RESET_WORK_DELAY_MS = 50;

/**
 * E-mail flows of an account: password reset, address verification and security notices. Secrets are
 * mailed once and stored only as SHA-256 hashes; every mail is sent after the transaction that caused it
 * has committed, off the request path (see `MailDispatch`), and always to the address on file, never to
 * the one a request typed. A reset request is worked on entirely off the request path.
 */
export function createEmailFlowsService(deps: EmailFlowsServiceDeps) {
  const { storage, security, hasher, sessions, users, audit, counter, clock, mailer } = deps;
  const dispatch = new MailDispatch(deps.onDeliveryFailure);
  const lockout = new AccountLockout(counter);
  // The token rides in the fragment: browsers send it neither to the page's server nor in a Referer.
  const link = (page: string, token: string) =>
    `${deps.publicUrl().replace(/\/+$/, '')}/${page}#token=${token}`;

  const deliver = (tenantId: string, to: string, kind: MailKind, content: MailContent) => {
    dispatch.run(kind, () => mailer.send({ tenantId, to, kind, ...content }));
  };

  const withinMailLimit = async (tenantId: string, userId: string, purpose: MailKind) =>
    (await counter.increment(`mail:${purpose}:${tenantId}:${userId}`, HOUR_MS)) <= LINKS_PER_HOUR;

  const userActor = (userId: string): AuditInput['actor'] => ({ type: 'user', id: userId });

  /** Finds a live single-use token, or says why not: unknown → 401, used or expired → 410. */
  async function liveToken(
    tx: TenantTx,
    tenantId: string,
    token: string,
    purpose: 'password_reset' | 'email_verification',
  ) {
    const row = await userTokenStore.find(tx, tenantId, hashToken(token), purpose);
    if (!row) throw new AppError('invalid_credentials', 'The link is not valid.');
    if (row.used_at !== null || row.expires_at <= clock.now()) throw new AppError('gone');
    const user = await userStore.findById(tx, tenantId, row.user_id);
    if (user?.status !== 'active') throw new AppError('gone');
    return { row, user };
  }

  /** The current password hash, then the remembered ones, newest first. */
  const earlierHashes = (user: UserRow): string[] => [
    ...(user.password_hash == null ? [] : [user.password_hash]),
    ...(JSON.parse(user.password_history ?? '[]') as string[]),
  ];

  /** The active user behind an address in an active tenant, or undefined for anything else. */
  async function resettableUser(tx: TenantTx, tenantId: string, email: string): Promise<UserRow | undefined> {
    const tenant = await tx
      .selectFrom('tenants')
      .select('status')
      .where('id', '=', tenantId)
      .executeTakeFirst();
    if (tenant?.status !== 'active') return undefined;
    const index = await security.blindIndex.compute(tx, tenantId, 'email', email);
    const row = await userStore.findByEmailIndex(tx, tenantId, index);
    return row?.status === 'active' ? row : undefined;
  }

  /** Reset requests accepted but not yet worked through; bounded by `MAX_PENDING_RESETS`. */
  let pendingResets = 0;

  /** The work behind a reset request; mails a link only when `email` belongs to an active user. */
  async function resetInBackground(tenantId: string, email: string, context: RequestContext) {
    if (!uuidPattern.test(tenantId)) return;
    const token = mintTenantToken('reset', tenantId);
    const recipient = await storage.withTenant(tenantId, async (tx) => {
      const tenant = await tx
        .selectFrom('tenants')
        .select('id')
        .where('id', '=', tenantId)
        .executeTakeFirst();
      if (!tenant) return undefined;
      // Throttled by address before we know whether it exists, so that the limit is no oracle either.
      const addressKey = await security.blindIndex.compute(tx, tenantId, 'email', email);
      const allowed = await withinMailLimit(tenantId, addressKey, 'password_reset');
      const row = await resettableUser(tx, tenantId, email);
      const address = row && (await users.getUserIn(tx, tenantId, row.id)).email;
      if (!row || !address) return undefined;
      await audit.append(tx, tenantId, {
        actor: userActor(row.id),
        action: allowed ? 'auth.password_reset_requested' : 'auth.password_reset_throttled',
        target: { type: 'user', id: row.id },
        outcome: allowed ? 'success' : 'denied',
        ...context,
      });
      if (!allowed) return undefined;
      await userTokenStore.insert(tx, {
        token_hash: hashToken(token),
        tenant_id: tenantId,
        user_id: row.id,
        purpose: 'password_reset',
        payload: null,
        attempts: 0,
        expires_at: clock.now() + RESET_TTL_MS,
        used_at: null,
      });
      return address;
    });
    if (recipient === undefined) return;
    deliver(
      tenantId,
      recipient,
      'password_reset',
      passwordResetMail(link('reset-password', token), RESET_TTL_MS / 60_000),
    );
  }

  const service = {
    /**
     * Accepts a reset request and does all of its work in the background: looking the address up,
     * throttling, auditing, minting the token and mailing it. The caller answers before any of that, so
     * neither the answer nor the time it takes tells whether `email` has an account (even the counter store
     * being down only reaches `onDeliveryFailure`). Refused alike for every address only when too many
     * requests are still being worked on (a flood must not queue unbounded work).
     */
    requestPasswordReset(tenantId: string, email: string, context: RequestContext): void {
      if (pendingResets >= MAX_PENDING_RESETS) throw new AppError('rate_limited');
      pendingResets += 1;
      dispatch.run('password_reset', async () => {
        try {
          await delay(RESET_WORK_DELAY_MS);
          await resetInBackground(tenantId, email, context);
        } finally {
          pendingResets -= 1;
        }
      });
    },

    /**
     * Sets a new password with a mailed token. The token works once; the account's lockout is lifted and
     * every session ends (whoever knew the old password is out). Refusals name the broken policy rules.
     */
    async confirmPasswordReset(token: string, newPassword: string, context: RequestContext): Promise<void> {
      const tenantId = tenantOfToken('reset', token);
      if (tenantId === undefined) throw new AppError('invalid_credentials', 'The link is not valid.');
      // Read, then judge and hash outside any transaction, then write: argon2 (a verification per
      // remembered password, then a hash) must not hold a database connection, and SQLite has only one.
      const read = await storage.withTenant(tenantId, async (tx) => {
        const { user } = await liveToken(tx, tenantId, token, 'password_reset');
        const person = await users.getUserIn(tx, tenantId, user.id);
        return { user, person, rules: await loadPasswordRules(tx, tenantId) };
      });
      await assertPasswordAllowed(
        newPassword,
        read.rules,
        {
          displayName: read.person.displayName ?? undefined,
          email: read.person.email ?? undefined,
          previousHashes: earlierHashes(read.user),
        },
        hasher,
      );
      const newHash = await hasher.hash(newPassword);
      await storage.withTenant(tenantId, async (tx) => {
        const { user } = await liveToken(tx, tenantId, token, 'password_reset');
        if (!(await emailTokenStore.claim(tx, tenantId, hashToken(token), 'password_reset', clock.now())))
          throw new AppError('gone');
        await userStore.update(tx, tenantId, user.id, {
          password_hash: newHash,
          password_changed_at: clock.now(),
          password_history: JSON.stringify(
            earlierHashes(user).slice(0, Math.max(read.rules.policy.historyCount, 1)),
          ),
        });
        await emailTokenStore.retireOutstanding(tx, tenantId, user.id, 'password_reset', clock.now());
        await audit.append(tx, tenantId, {
          actor: userActor(user.id),
          action: 'auth.password_reset',
          target: { type: 'user', id: user.id },
          outcome: 'success',
          ...context,
        });
      });
      await lockout.clear(lockoutKeyForUser(tenantId, read.user));
      await sessions.revokeUserSessions(tenantId, read.user.id, { reason: 'password_reset' });
      service.notify(tenantId, read.user.id, 'password_changed', context);
    },

    /** Mails the user a link that confirms their current address (409 without one, or when confirmed). */
    async sendEmailVerification(
      tenantId: string,
      userId: string,
      context: RequestContext = {},
    ): Promise<void> {
      const token = mintTenantToken('verify', tenantId);
      const recipient = await storage.withTenant(tenantId, async (tx) => {
        const row = await userStore.findById(tx, tenantId, userId);
        if (!row) throw new AppError('not_found');
        const address = (await users.getUserIn(tx, tenantId, userId)).email;
        if (!address || row.email_index == null)
          throw new AppError('conflict', 'The account has no e-mail address.');
        if (row.email_verified_at != null)
          throw new AppError('conflict', 'The address is already confirmed.');
        if (!(await withinMailLimit(tenantId, userId, 'email_verification')))
          throw new AppError('rate_limited');
        await userTokenStore.insert(tx, {
          token_hash: hashToken(token),
          tenant_id: tenantId,
          user_id: userId,
          purpose: 'email_verification',
          // Bound to the address it was mailed to: if the address changes, the old link confirms nothing.
          payload: JSON.stringify({ emailIndex: row.email_index }),
          attempts: 0,
          expires_at: clock.now() + VERIFY_TTL_MS,
          used_at: null,
        });
        await audit.append(tx, tenantId, {
          actor: userActor(userId),
          action: 'user.email_verification_sent',
          target: { type: 'user', id: userId },
          outcome: 'success',
          ...context,
        });
        return address;
      });
      deliver(
        tenantId,
        recipient,
        'email_verification',
        verificationMail(link('verify-email', token), VERIFY_TTL_MS / 3_600_000),
      );
    },

    /** Confirms the address a verification link was mailed to; the link works once. */
    async confirmEmailVerification(token: string, context: RequestContext = {}): Promise<void> {
      const tenantId = tenantOfToken('verify', token);
      if (tenantId === undefined) throw new AppError('invalid_credentials', 'The link is not valid.');
      await storage.withTenant(tenantId, async (tx) => {
        const { row, user } = await liveToken(tx, tenantId, token, 'email_verification');
        const { emailIndex } = JSON.parse(row.payload ?? '{}') as { emailIndex?: string };
        if (emailIndex === undefined || emailIndex !== user.email_index) throw new AppError('gone');
        if (!(await emailTokenStore.claim(tx, tenantId, row.token_hash, 'email_verification', clock.now())))
          throw new AppError('gone');
        await userStore.update(tx, tenantId, user.id, { email_verified_at: clock.now() });
        await emailTokenStore.retireOutstanding(tx, tenantId, user.id, 'email_verification', clock.now());
        await audit.append(tx, tenantId, {
          actor: userActor(user.id),
          action: 'user.email_verified',
          target: { type: 'user', id: user.id },
          outcome: 'success',
          ...context,
        });
      });
    },

    /**
     * Sends a security notice to the user's address on file, in the background: the caller neither waits
     * for it nor fails with it (a failure reaches `onDeliveryFailure`). Users without an address get none.
     */
    notify(tenantId: string, userId: string, kind: SecurityNoticeKind, details: NoticeDetails): void {
      const at = clock.now();
      dispatch.run(kind, async () => {
        const { email } = await users.getUser(tenantId, userId);
        if (!email) return;
        await mailer.send({ tenantId, to: email, kind, ...securityNoticeMail(kind, at, details) });
      });
    },

    /** The embedded outbox, newest first, for an admin; the read is audited (the mails hold personal data). */
    async readOutbox(
      tenantId: string,
      actor: AuditInput['actor'],
      limit: number,
      context: RequestContext,
    ): Promise<OutboxMessage[]> {
      return storage.withTenant(tenantId, async (tx) => {
        const messages = await readOutbox(tx, security.fieldCipher, tenantId, limit);
        await audit.append(tx, tenantId, {
          actor,
          action: 'mail.outbox_read',
          outcome: 'success',
          ...context,
          details: { count: messages.length },
        });
        return messages;
      });
    },

    /**
     * Sends a mail in the background, for flows of their own that write to an address not on file (the new
     * address of an e-mail change). Call it only after the transaction that caused the mail committed.
     */
    deliver,

    /** A security notice to an address that is no longer on file (the old one, after an e-mail change). */
    noticeTo(tenantId: string, to: string, kind: SecurityNoticeKind, details: NoticeDetails): void {
      deliver(tenantId, to, kind, securityNoticeMail(kind, clock.now(), details));
    },

    /** Resolves once every mail started so far was handed over or given up (shutdown, tests). */
    drain: () => dispatch.drain(),
  };
  return service;
}

export type EmailFlowsService = ReturnType<typeof createEmailFlowsService>;
