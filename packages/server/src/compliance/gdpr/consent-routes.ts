import {
  consentPurposeListBody,
  grantConsentBody,
  myConsentBody,
  myConsentListBody,
  purposeKey,
} from '@parley/protocol';
import { z } from 'zod';
import { AppError } from '../../app-error.ts';
import { principalOf } from '../../http/auth-hook.ts';
import { requestContext } from '../../http/request-context.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import type { ConsentPurposeService } from './consent-purpose-service.ts';
import type { ConsentActor, ConsentService } from './consent-service.ts';
import { presentMyConsent, presentPurpose } from './consent-presenter.ts';

const tenantParams = z.object({ tenantId: z.uuid() });
const keyParams = z.object({ key: purposeKey });
/**
 * No permission: giving and withdrawing one's own consent is the data subject's right, which no role may take
 * away (a custom role without `profile.update` would otherwise leave its members unable ever to accept).
 */
const ownConsent = { kind: 'authenticated', scope: 'profile', permission: null } as const;

/**
 * Consent as users meet it: the purposes a sign-up form shows (public), and the caller's own consents.
 * The `/v1/me/consents` routes need only the `profile` scope, so the limited token of a user who owes consent
 * can read and accept what changed.
 */
export function consentRoutes(deps: {
  consents: ConsentService;
  consentPurposes: ConsentPurposeService;
}): RouteDeclaration[] {
  const actorOf = (principal: ReturnType<typeof principalOf>): ConsentActor => {
    if (principal.userId === null)
      throw new AppError('forbidden', 'This endpoint is for users, not API clients.');
    return { userId: principal.userId, sessionId: principal.sessionId };
  };
  return [
    {
      method: 'GET',
      url: '/v1/tenants/:tenantId/consent-purposes',
      operationId: 'listPublishedConsentPurposes',
      summary:
        'The processing purposes a sign-up, invitation claim or owner setup accepts (current versions).',
      tags: ['consent'],
      access: { kind: 'public' },
      schema: { params: tenantParams, response: { 200: consentPurposeListBody } },
      handler: async (request) => {
        const { tenantId } = tenantParams.parse(request.params);
        return { purposes: (await deps.consentPurposes.published(tenantId)).map(presentPurpose) };
      },
    },
    {
      method: 'GET',
      url: '/v1/me/consents',
      operationId: 'listMyConsents',
      summary: 'The tenant’s processing purposes and where the caller stands on each.',
      tags: ['consent'],
      access: ownConsent,
      schema: { response: { 200: myConsentListBody } },
      handler: async (request) => {
        const principal = principalOf(request);
        const consents = await deps.consents.mine(principal.tenantId, actorOf(principal).userId);
        return { consents: consents.map(presentMyConsent) };
      },
    },
    {
      method: 'PUT',
      url: '/v1/me/consents/:key',
      operationId: 'grantConsent',
      summary: 'Grant the current version of a purpose (the version read must be the current one).',
      tags: ['consent'],
      access: ownConsent,
      schema: { params: keyParams, body: grantConsentBody, response: { 200: myConsentBody } },
      handler: async (request) => {
        const principal = principalOf(request);
        const { key } = keyParams.parse(request.params);
        const { version } = grantConsentBody.parse(request.body);
        return presentMyConsent(
          await deps.consents.grant(
            principal.tenantId,
            actorOf(principal),
            key,
            version,
            requestContext(request),
          ),
        );
      },
    },
    {
      method: 'DELETE',
      url: '/v1/me/consents/:key',
      operationId: 'withdrawConsent',
      summary:
        'Withdraw consent to a purpose, at once (a required one limits the account until granted again).',
      tags: ['consent'],
      access: ownConsent,
      schema: { params: keyParams, response: { 200: myConsentBody } },
      handler: async (request) => {
        const principal = principalOf(request);
        const { key } = keyParams.parse(request.params);
        return presentMyConsent(
          await deps.consents.withdraw(principal.tenantId, actorOf(principal), key, requestContext(request)),
        );
      },
    },
  ];
}
