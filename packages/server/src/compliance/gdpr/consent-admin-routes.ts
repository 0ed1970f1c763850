import {
  consentCoverageBody,
  consentLedgerBody,
  consentPurposeBody,
  consentPurposeListBody,
  createPurposeBody,
  purposeKey,
  updatePurposeBody,
} from '@parley/protocol';
import { z } from 'zod';
import { AppError } from '../../app-error.ts';
import { principalOf } from '../../http/auth-hook.ts';
import { requestContext } from '../../http/request-context.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import type { AuditInput } from '../audit/audit-entry.ts';
import type { ConsentPurposeService } from './consent-purpose-service.ts';
import type { ConsentService } from './consent-service.ts';
import { presentCoverage, presentLedgerEntry, presentPurpose } from './consent-presenter.ts';

const keyParams = z.object({ key: purposeKey });
const userParams = z.object({ userId: z.uuid() });
const access = { kind: 'authenticated', scope: 'admin', permission: 'consent.manage' } as const;

/**
 * A tenant's processing purposes as its admins and data protection officer manage them (permission
 * `consent.manage`, which a tenant's own server never holds: publishing what users agree to is a person's act).
 */
export function consentAdminRoutes(deps: {
  consentPurposes: ConsentPurposeService;
  consents: Pick<ConsentService, 'ledgerOf'>;
}): RouteDeclaration[] {
  const actorOf = (principal: ReturnType<typeof principalOf>): AuditInput['actor'] => {
    if (principal.userId === null)
      throw new AppError('forbidden', 'This endpoint is for users, not API clients.');
    return { type: 'user', id: principal.userId, sessionId: principal.sessionId };
  };
  return [
    {
      method: 'GET',
      url: '/v1/consent-purposes',
      operationId: 'listConsentPurposes',
      summary: 'Every processing purpose’s current version, retired ones included.',
      tags: ['consent'],
      access,
      schema: { response: { 200: consentPurposeListBody } },
      handler: async (request) => {
        const principal = principalOf(request);
        return { purposes: (await deps.consentPurposes.list(principal.tenantId)).map(presentPurpose) };
      },
    },
    {
      method: 'POST',
      url: '/v1/consent-purposes',
      operationId: 'createConsentPurpose',
      summary: 'Publish a new processing purpose (version 1; optional unless `required` is set).',
      tags: ['consent'],
      access,
      schema: { body: createPurposeBody, response: { 201: consentPurposeBody } },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const created = await deps.consentPurposes.create(
          principal.tenantId,
          createPurposeBody.parse(request.body),
          actorOf(principal),
          requestContext(request),
        );
        return reply.code(201).send(presentPurpose(created));
      },
    },
    {
      method: 'PATCH',
      url: '/v1/consent-purposes/:key',
      operationId: 'updateConsentPurpose',
      summary:
        'Change a purpose: new title, text or lawful basis publish a new version; required/active in place.',
      tags: ['consent'],
      access,
      schema: { params: keyParams, body: updatePurposeBody, response: { 200: consentPurposeBody } },
      handler: async (request) => {
        const principal = principalOf(request);
        const { key } = keyParams.parse(request.params);
        return presentPurpose(
          await deps.consentPurposes.update(
            principal.tenantId,
            key,
            updatePurposeBody.parse(request.body),
            actorOf(principal),
            requestContext(request),
          ),
        );
      },
    },
    {
      method: 'GET',
      url: '/v1/consent-purposes/:key/versions',
      operationId: 'listConsentPurposeVersions',
      summary: 'Every version of one purpose, oldest first: the exact words each ledger row refers to.',
      tags: ['consent'],
      access,
      schema: { params: keyParams, response: { 200: consentPurposeListBody } },
      handler: async (request) => {
        const principal = principalOf(request);
        const { key } = keyParams.parse(request.params);
        return {
          purposes: (await deps.consentPurposes.versions(principal.tenantId, key)).map(presentPurpose),
        };
      },
    },
    {
      method: 'GET',
      url: '/v1/consent-coverage',
      operationId: 'getConsentCoverage',
      summary:
        'Per purpose: active users who granted its current version, an older one, withdrew, or never answered.',
      tags: ['consent'],
      access,
      schema: { response: { 200: consentCoverageBody } },
      handler: async (request) => {
        const principal = principalOf(request);
        return { purposes: (await deps.consentPurposes.coverage(principal.tenantId)).map(presentCoverage) };
      },
    },
    {
      method: 'GET',
      url: '/v1/users/:userId/consent-ledger',
      operationId: 'getUserConsentLedger',
      summary: 'Every grant and withdrawal of one user, oldest first, with the text hash of each version.',
      tags: ['consent'],
      access,
      schema: { params: userParams, response: { 200: consentLedgerBody } },
      handler: async (request) => {
        const principal = principalOf(request);
        const { userId } = userParams.parse(request.params);
        const entries = await deps.consents.ledgerOf(principal.tenantId, userId);
        return { entries: entries.map(presentLedgerEntry) };
      },
    },
  ];
}
