import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { AuditLog } from '../../compliance/audit/audit-log.ts';
import type { RequestContext } from '../../compliance/audit/request-context.ts';
import type { Counter } from '../../counters/counter.ts';
import type { SecurityCore } from '../../crypto/security-core.ts';
import { hashToken, mintTenantToken, tenantOfToken } from '../../crypto/token.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { AccountService } from '../account-service.ts';
import type { Actor } from '../profile-service.ts';
import type { UserService } from '../user-service.ts';
import { userStore } from '../user-store.ts';
import { userTokenStore } from '../user-token-store.ts';
import type { EmailFlowsService } from './email-flows-service.ts';
import { emailTokenStore } from './email-token-store.ts';
import { emailChangeMail } from './security-mails.ts';

const CHANGE_TTL_MS = 24 * 3600_000;
/** Change links per user per hour: the flow mails an address the requester typed. */
const LINKS_PER_HOUR = 5;

export interface EmailChangeServiceDeps {
  storage: Storage;
  security: SecurityCore;
  users: Pick<UserService, 'getUserIn'>;
  accounts: Pick<AccountService, 'verifyPassword'>;
  emailFlows: Pick<EmailFlowsService, 'deliver' | 'noticeTo'>;
  audit: AuditLog;
  counter: Counter;
  clock: Clock;
  /** Base of the link in the mail: configured, or the server's own URL. Never a request's Host header. */
  publicUrl: () => string;
}

/**
 * A user corrects their own e-mail address (GDPR Art. 16). The address is where password resets go and the
 * name the user signs in with, so the change asks for the password (a stolen session alone cannot move the
 * account to its thief's mailbox) and takes effect only once a link mailed to the new address is opened;
 * the old address is then told. The pending address is sealed under the user's key in the token row.
 */
export function createEmailChangeService(deps: EmailChangeServiceDeps) {
  const { storage, security, users, accounts, emailFlows, audit, counter, clock } = deps;
  const tokenLocation = (tenantId: string, tokenHash: string) => ({
    tenantId,
    table: 'user_tokens',
    column: 'payload',
    rowId: tokenHash,
  });

  /** The index of `email` when no other user of the tenant holds it. */
  async function freeAddress(tx: TenantTx, tenantId: string, userId: string, email: string) {
    const emailIndex = await security.blindIndex.compute(tx, tenantId, 'email', email);
    const holder = await userStore.findByEmailIndex(tx, tenantId, emailIndex);
    if (holder?.id === userId) throw new AppError('conflict', 'This is already the account’s address.');
    if (holder) throw new AppError('conflict', 'A user with this e-mail address already exists.');
    return emailIndex;
  }

  return {
    /** Checks the password, then mails a confirmation link to the new address. Answers before the mail goes. */
    async requestChange(
      tenantId: string,
      actor: Actor,
      input: { email: string; password: string },
      context: RequestContext,
    ): Promise<void> {
      await accounts.verifyPassword(tenantId, actor.userId, input.password, context);
      const token = mintTenantToken('verify', tenantId);
      const tokenHash = hashToken(token);
      await storage.withTenant(tenantId, async (tx) => {
        const emailIndex = await freeAddress(tx, tenantId, actor.userId, input.email);
        const sent = await counter.increment(`mail:email_change:${tenantId}:${actor.userId}`, 3600_000);
        if (sent > LINKS_PER_HOUR) throw new AppError('rate_limited');
        // One pending change at a time: an earlier link dies.
        await emailTokenStore.retireOutstanding(tx, tenantId, actor.userId, 'email_change', clock.now());
        const sealed = await security.fieldCipher.sealForUser(
          tx,
          tokenLocation(tenantId, tokenHash),
          actor.userId,
          input.email,
        );
        await userTokenStore.insert(tx, {
          token_hash: tokenHash,
          tenant_id: tenantId,
          user_id: actor.userId,
          purpose: 'email_change',
          payload: JSON.stringify({ emailIndex, email: sealed }),
          attempts: 0,
          expires_at: clock.now() + CHANGE_TTL_MS,
          used_at: null,
        });
        await audit.append(tx, tenantId, {
          actor: { type: 'user', id: actor.userId, sessionId: actor.sessionId },
          action: 'user.email_change_requested',
          target: { type: 'user', id: actor.userId },
          outcome: 'success',
          ...context,
        });
      });
      const link = `${deps.publicUrl().replace(/\/+$/, '')}/confirm-email-change#token=${token}`;
      emailFlows.deliver(
        tenantId,
        input.email,
        'email_change',
        emailChangeMail(link, CHANGE_TTL_MS / 3_600_000),
      );
    },

    /** Confirms a change with the mailed token: the new address is on file, confirmed; the old one is told. */
    async confirmChange(token: string, context: RequestContext): Promise<void> {
      const tenantId = tenantOfToken('verify', token);
      if (tenantId === undefined) throw new AppError('invalid_credentials', 'The link is not valid.');
      const tokenHash = hashToken(token);
      const previous = await storage.withTenant(tenantId, async (tx) => {
        const row = await userTokenStore.find(tx, tenantId, tokenHash, 'email_change');
        if (!row) throw new AppError('invalid_credentials', 'The link is not valid.');
        if (row.used_at !== null || row.expires_at <= clock.now()) throw new AppError('gone');
        const user = await userStore.lockById(tx, tenantId, row.user_id, storage.dialect);
        if (user?.status === 'restricted') throw new AppError('account_restricted');
        if (user?.status !== 'active') throw new AppError('gone');
        const payload = JSON.parse(row.payload ?? '{}') as { email?: string };
        const email = await security.fieldCipher.open(
          tx,
          tokenLocation(tenantId, tokenHash),
          payload.email ?? '',
          user.id,
        );
        const emailIndex = await freeAddress(tx, tenantId, user.id, email);
        if (!(await emailTokenStore.claim(tx, tenantId, tokenHash, 'email_change', clock.now())))
          throw new AppError('gone');
        const old = (await users.getUserIn(tx, tenantId, user.id)).email;
        await userStore.update(tx, tenantId, user.id, {
          email: await security.fieldCipher.sealForUser(
            tx,
            { tenantId, table: 'users', column: 'email', rowId: user.id },
            user.id,
            email,
          ),
          email_index: emailIndex,
          // Opening the link proved the address.
          email_verified_at: clock.now(),
          updated_at: clock.now(),
        });
        await emailTokenStore.retireOutstanding(tx, tenantId, user.id, 'email_verification', clock.now());
        await audit.append(tx, tenantId, {
          actor: { type: 'user', id: user.id },
          action: 'user.email_changed',
          target: { type: 'user', id: user.id },
          outcome: 'success',
          ...context,
          details: { fields: ['email'] },
        });
        return old;
      });
      if (previous) emailFlows.noticeTo(tenantId, previous, 'email_changed', context);
    },
  };
}

export type EmailChangeService = ReturnType<typeof createEmailChangeService>;
