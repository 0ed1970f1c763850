import {
  changeAssessmentRequest,
  changeCreateRequest,
  changeRecord,
  changeRecordList,
  risk,
  riskCreateRequest,
  riskList,
  riskReviewRequest,
} from '@parley/protocol';
import { z } from 'zod';
import type { Clock } from '../../clock.ts';
import { staffOf } from '../../http/auth-hook.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import { presentChange, presentRisk, risksCsv } from './risk-presenter.ts';
import type { RiskService } from './risk-service.ts';

const riskParams = z.object({ riskId: z.uuid() }).strict();
const changeParams = z.object({ changeId: z.uuid() }).strict();
/** The register is the security officer's; platform admins read it. */
const officer = { kind: 'platform', roles: ['security_officer'] } as const;
const readers = { kind: 'platform', roles: ['security_officer', 'platform_admin'] } as const;

/** The risk register and change records under `/v1/platform/…` (docs/compliance.md, "Registers"). */
export function riskRoutes({ risks, clock }: { risks: RiskService; clock: Clock }): RouteDeclaration[] {
  return [
    {
      method: 'POST',
      url: '/v1/platform/risks',
      operationId: 'createRisk',
      summary:
        'Add a risk: asset, threat, likelihood and impact (1–5; score = product), controls, owner, next review (within a year).',
      tags: ['risk-register'],
      access: officer,
      schema: { body: riskCreateRequest, response: { 201: risk } },
      handler: async (request, reply) => {
        const row = await risks.createRisk(staffOf(request), riskCreateRequest.parse(request.body));
        return reply.code(201).send(presentRisk(row, clock.now()));
      },
    },
    {
      method: 'GET',
      url: '/v1/platform/risks',
      operationId: 'listRisks',
      summary: 'The risk register, next review first; reviewOverdue marks risks past their review date.',
      tags: ['risk-register'],
      access: readers,
      schema: { response: { 200: riskList } },
      handler: async () => {
        const now = clock.now();
        return { risks: (await risks.listRisks()).map((row) => presentRisk(row, now)) };
      },
    },
    {
      method: 'GET',
      url: '/v1/platform/risks.csv',
      operationId: 'exportRisksCsv',
      summary: 'The risk register as CSV (RFC 4180), the same fields as the JSON list.',
      tags: ['risk-register'],
      access: readers,
      produces: 'text/csv',
      schema: { response: { 200: z.string() } },
      handler: async (_request, reply) => {
        const now = clock.now();
        const body = risksCsv((await risks.listRisks()).map((row) => presentRisk(row, now)));
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="risk-register.csv"')
          .send(body);
      },
    },
    {
      method: 'POST',
      url: '/v1/platform/risks/:riskId/reviews',
      operationId: 'reviewRisk',
      summary:
        'Record a review of a risk (changes to its scores, controls, status); the next review is due within a year.',
      tags: ['risk-register'],
      access: officer,
      schema: { params: riskParams, body: riskReviewRequest, response: { 200: risk } },
      handler: async (request) => {
        const { riskId } = riskParams.parse(request.params);
        const row = await risks.review(staffOf(request), riskId, riskReviewRequest.parse(request.body));
        return presentRisk(row, clock.now());
      },
    },
    {
      method: 'POST',
      url: '/v1/platform/changes',
      operationId: 'createChangeRecord',
      summary:
        'Record a planned change; a major one must link a risk assessment before it can be marked done.',
      tags: ['risk-register'],
      access: officer,
      schema: { body: changeCreateRequest, response: { 201: changeRecord } },
      handler: async (request, reply) => {
        const row = await risks.createChange(staffOf(request), changeCreateRequest.parse(request.body));
        return reply.code(201).send(presentChange(row));
      },
    },
    {
      method: 'GET',
      url: '/v1/platform/changes',
      operationId: 'listChangeRecords',
      summary: 'Change records, newest first, with their linked risk assessments.',
      tags: ['risk-register'],
      access: readers,
      schema: { response: { 200: changeRecordList } },
      handler: async () => ({ changes: (await risks.listChanges()).map(presentChange) }),
    },
    {
      method: 'PUT',
      url: '/v1/platform/changes/:changeId/assessment',
      operationId: 'assessChangeRecord',
      summary: 'Link the risk a change was assessed against, with the assessment.',
      tags: ['risk-register'],
      access: officer,
      schema: { params: changeParams, body: changeAssessmentRequest, response: { 200: changeRecord } },
      handler: async (request) => {
        const { changeId } = changeParams.parse(request.params);
        return presentChange(
          await risks.assess(staffOf(request), changeId, changeAssessmentRequest.parse(request.body)),
        );
      },
    },
    {
      method: 'POST',
      url: '/v1/platform/changes/:changeId/done',
      operationId: 'completeChangeRecord',
      summary:
        'Mark a change done: refused (risk_assessment_required) for a major change without a linked risk assessment.',
      tags: ['risk-register'],
      access: officer,
      schema: { params: changeParams, response: { 200: changeRecord } },
      handler: async (request) => {
        const { changeId } = changeParams.parse(request.params);
        return presentChange(await risks.complete(staffOf(request), changeId));
      },
    },
  ];
}
