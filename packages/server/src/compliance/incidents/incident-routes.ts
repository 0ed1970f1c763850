import {
  incident,
  incidentActionRequest,
  incidentAuthorityRequest,
  incidentList,
  incidentOpenRequest,
  incidentRcaRequest,
  incidentScope,
  incidentScopeRequest,
  incidentTenantNoticeRequest,
  incidentUpdateRequest,
  incidentUserNoticeRequest,
  noticeOutcome,
} from '@parley/protocol';
import { z } from 'zod';
import type { Clock } from '../../clock.ts';
import { staffOf } from '../../http/auth-hook.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import { presentIncident, presentScope } from './incident-presenter.ts';
import type { StaffPrincipal } from '../../platform/staff-service.ts';
import type { IncidentService } from './incident-service.ts';

const incidentParams = z.object({ incidentId: z.uuid() }).strict();
const actionParams = z.object({ incidentId: z.uuid(), actionId: z.uuid() }).strict();
/** Only security officers run incidents (docs/incident-response.md). */
const officer = { kind: 'platform', roles: ['security_officer'] } as const;

/** The security officer's incident routes under `/v1/platform/incidents`. Tenant tokens get 404 here. */
export function incidentRoutes({
  incidents,
  clock,
}: {
  incidents: IncidentService;
  clock: Clock;
}): RouteDeclaration[] {
  const show = async (id: string) => {
    const { row, actions } = await incidents.get(id);
    return presentIncident(row, actions, clock.now());
  };
  const step = <B extends z.ZodType>(
    url: string,
    operationId: string,
    summary: string,
    body: B,
    act: (staff: StaffPrincipal, id: string, input: z.output<B>) => Promise<unknown>,
  ): RouteDeclaration => ({
    method: 'POST',
    url: `/v1/platform/incidents/:incidentId/${url}`,
    operationId,
    summary,
    tags: ['incidents'],
    access: officer,
    schema: { params: incidentParams, body, response: { 200: incident } },
    handler: async (request) => {
      const { incidentId } = incidentParams.parse(request.params);
      await act(staffOf(request), incidentId, body.parse(request.body));
      return show(incidentId);
    },
  });
  const notice = <B extends z.ZodType>(
    url: string,
    operationId: string,
    summary: string,
    body: B,
    act: (staff: StaffPrincipal, id: string, input: z.output<B>) => Promise<unknown>,
  ): RouteDeclaration => ({
    method: 'POST',
    url: `/v1/platform/incidents/:incidentId/${url}`,
    operationId,
    summary,
    tags: ['incidents'],
    access: officer,
    schema: { params: incidentParams, body, response: { 200: noticeOutcome } },
    handler: async (request) => {
      const { incidentId } = incidentParams.parse(request.params);
      return act(staffOf(request), incidentId, body.parse(request.body));
    },
  });
  return [
    {
      method: 'POST',
      url: '/v1/platform/incidents',
      operationId: 'openIncident',
      summary:
        'Open an incident: time of awareness (every clock starts there), severity, description, data categories.',
      tags: ['incidents'],
      access: officer,
      schema: { body: incidentOpenRequest, response: { 201: incident } },
      handler: async (request, reply) => {
        const row = await incidents.open(staffOf(request), incidentOpenRequest.parse(request.body));
        return reply.code(201).send(await show(row.id));
      },
    },
    {
      method: 'GET',
      url: '/v1/platform/incidents',
      operationId: 'listIncidents',
      summary: 'Every incident with its clocks and corrective actions, newest awareness first.',
      tags: ['incidents'],
      access: officer,
      schema: { response: { 200: incidentList } },
      handler: async () => {
        const now = clock.now();
        return {
          incidents: (await incidents.list()).map(({ row, actions }) => presentIncident(row, actions, now)),
        };
      },
    },
    {
      method: 'GET',
      url: '/v1/platform/incidents/:incidentId',
      operationId: 'getIncident',
      summary: 'One incident with its clocks (deadline, met, overdue, delay reason) and corrective actions.',
      tags: ['incidents'],
      access: officer,
      schema: { params: incidentParams, response: { 200: incident } },
      handler: async (request) => show(incidentParams.parse(request.params).incidentId),
    },
    {
      method: 'PATCH',
      url: '/v1/platform/incidents/:incidentId',
      operationId: 'updateIncident',
      summary: 'Move an open incident on: status (investigating, contained, resolved), severity, texts.',
      tags: ['incidents'],
      access: officer,
      schema: { params: incidentParams, body: incidentUpdateRequest, response: { 200: incident } },
      handler: async (request) => {
        const { incidentId } = incidentParams.parse(request.params);
        await incidents.update(staffOf(request), incidentId, incidentUpdateRequest.parse(request.body));
        return show(incidentId);
      },
    },
    {
      method: 'POST',
      url: '/v1/platform/incidents/:incidentId/scope',
      operationId: 'scopeIncident',
      summary:
        'Scope from evidence: a time window and indicators (session ids, user ids, IP addresses, an OAuth client id) looked for in every tenant’s audit log; answers the affected tenants, users and kinds of record.',
      tags: ['incidents'],
      access: officer,
      schema: { params: incidentParams, body: incidentScopeRequest, response: { 200: incidentScope } },
      handler: async (request) => {
        const { incidentId } = incidentParams.parse(request.params);
        const input = incidentScopeRequest.parse(request.body);
        const rows = await incidents.scope(staffOf(request), incidentId, {
          ...input,
          from: Date.parse(input.from),
          to: Date.parse(input.to),
        });
        return presentScope(rows);
      },
    },
    {
      method: 'GET',
      url: '/v1/platform/incidents/:incidentId/scope',
      operationId: 'getIncidentScope',
      summary: 'The affected tenants of the last scoping, with when each was notified and asked for the RCA.',
      tags: ['incidents'],
      access: officer,
      schema: { params: incidentParams, response: { 200: incidentScope } },
      handler: async (request) =>
        presentScope((await incidents.get(incidentParams.parse(request.params).incidentId)).affected),
    },
    notice(
      'tenant-notices',
      'notifyIncidentTenants',
      'E-mail the owners of every affected tenant, Art. 33(3) content pre-filled; once each (a repeat sends nothing). Past the controller clock, delayReason is required.',
      incidentTenantNoticeRequest,
      (staff, id, input) => incidents.notifyTenants(staff, id, input),
    ),
    notice(
      'user-notices',
      'notifyIncidentUsers',
      'Tell every affected user by e-mail and in the app, once each. Past the HIPAA 60-day clock, delayReason is required.',
      incidentUserNoticeRequest,
      (staff, id, input) => incidents.notifyUsers(staff, id, input),
    ),
    step(
      'authority-notification',
      'recordIncidentAuthorityNotification',
      'Record that the supervisory authority was notified (GDPR Art. 33, 72 hours); past the clock, delayReason is required.',
      incidentAuthorityRequest,
      (staff, id, input) => incidents.recordAuthority(staff, id, input),
    ),
    step(
      'actions',
      'addIncidentAction',
      'Add a corrective action; the incident closes only when every action is done.',
      incidentActionRequest,
      (staff, id, input) => incidents.addAction(staff, id, input),
    ),
    {
      method: 'POST',
      url: '/v1/platform/incidents/:incidentId/actions/:actionId/done',
      operationId: 'completeIncidentAction',
      summary: 'Mark a corrective action done.',
      tags: ['incidents'],
      access: officer,
      schema: { params: actionParams, response: { 200: incident } },
      handler: async (request) => {
        const { incidentId, actionId } = actionParams.parse(request.params);
        await incidents.completeAction(staffOf(request), incidentId, actionId);
        return show(incidentId);
      },
    },
    {
      method: 'PUT',
      url: '/v1/platform/incidents/:incidentId/rca',
      operationId: 'attachIncidentRca',
      summary: 'Attach (or replace) the root cause analysis; affected tenants can then download it.',
      tags: ['incidents'],
      access: officer,
      schema: { params: incidentParams, body: incidentRcaRequest, response: { 200: incident } },
      handler: async (request) => {
        const { incidentId } = incidentParams.parse(request.params);
        await incidents.attachRca(staffOf(request), incidentId, incidentRcaRequest.parse(request.body).text);
        return show(incidentId);
      },
    },
    {
      method: 'POST',
      url: '/v1/platform/incidents/:incidentId/close',
      operationId: 'closeIncident',
      summary:
        'Close the incident: refused (incident_rca_missing, incident_actions_open) until the RCA is attached and every action done.',
      tags: ['incidents'],
      access: officer,
      schema: { params: incidentParams, response: { 200: incident } },
      handler: async (request) => {
        const { incidentId } = incidentParams.parse(request.params);
        await incidents.close(staffOf(request), incidentId);
        return show(incidentId);
      },
    },
  ];
}
