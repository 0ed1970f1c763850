import { AppError } from '../../app-error.ts';
import type { EmailFlowsService } from '../../identity/email/email-flows-service.ts';
import type { ProfileCorrection, ProfileService } from '../../identity/profile-service.ts';
import type { UserService } from '../../identity/user-service.ts';
import type { Storage } from '../../storage/database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { DsrService } from './dsr-service.ts';
import type { AccountActor } from './restriction-service.ts';

export interface RectificationServiceDeps {
  storage: Storage;
  profiles: Pick<ProfileService, 'correctIn'>;
  users: Pick<UserService, 'getUserIn' | 'statusForChangeIn'>;
  dsr: Pick<DsrService, 'createIn' | 'openRequestIn' | 'transitionIn'>;
  emailFlows: Pick<EmailFlowsService, 'noticeTo'>;
  audit: AuditLog;
}

/**
 * Rectification by an administrator (GDPR Art. 16): display name, e-mail address, phone, avatar and custom
 * data of a user. Users correct their own profile through `PATCH /v1/me` and their address through the
 * e-mail change flow; this is for what they cannot do, or ask to have done. Every correction answers a
 * rectification request — the open one named, or one recorded and completed here — and is audited by field
 * names only. A changed address is unconfirmed until its owner confirms it, and the old one is told.
 */
export function createRectificationService(deps: RectificationServiceDeps) {
  const { storage, profiles, users, dsr, emailFlows, audit } = deps;
  return {
    async rectify(
      tenantId: string,
      actor: AccountActor,
      userId: string,
      input: { changes: ProfileCorrection; requestId?: string | undefined },
    ): Promise<{ requestId: string; fields: string[] }> {
      const done = await storage.withTenant(tenantId, async (tx) => {
        const { status, roles } = await users.statusForChangeIn(tx, tenantId, userId);
        // An owner's address is where their password resets go: an admin who could move it could take over.
        if (roles.includes('owner') && !actor.isOwner)
          throw new AppError('forbidden', 'Only owners can correct an owner’s personal data.');
        // A restricted account (Art. 18) is frozen: corrected only in answer to a rectification request the
        // subject made and the administrator names, which is what a restriction for contested accuracy awaits.
        const restricted = status === 'restricted';
        if (restricted && input.requestId === undefined)
          throw new AppError(
            'account_restricted',
            'Processing of this account is restricted; correct it only in answer to the user’s open rectification request (requestId).',
          );
        const request =
          input.requestId === undefined
            ? await dsr.createIn(
                tx,
                tenantId,
                { kind: 'rectification', subjectId: userId, requestedBy: actor.userId, source: 'admin' },
                actor,
              )
            : await dsr.openRequestIn(tx, tenantId, input.requestId, userId, ['rectification']);
        const previousEmail = (await users.getUserIn(tx, tenantId, userId)).email;
        const fields = await profiles.correctIn(tx, tenantId, userId, input.changes, {
          whileRestricted: restricted,
        });
        await audit.append(tx, tenantId, {
          actor: actor.actor,
          action: 'privacy.rectified',
          target: { type: 'user', id: userId },
          outcome: 'success',
          ...actor.context,
          // Which fields, never their values: details are stored in the clear.
          details: { fields, requestId: request.id, ...(restricted ? { whileRestricted: true } : {}) },
        });
        await dsr.transitionIn(
          tx,
          tenantId,
          request.id,
          { status: 'completed', outcome: `Corrected: ${fields.join(', ')}.` },
          actor,
        );
        const movedFrom = input.changes.email !== undefined ? previousEmail : null;
        return { requestId: request.id, fields, movedFrom };
      });
      if (done.movedFrom !== null)
        emailFlows.noticeTo(tenantId, done.movedFrom, 'email_changed', actor.context);
      return { requestId: done.requestId, fields: done.fields };
    },
  };
}

export type RectificationService = ReturnType<typeof createRectificationService>;
