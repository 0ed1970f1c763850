import {
  incidentRca,
  incidentUserNoticeList,
  publicIncidentFeed,
  tenantIncidentList,
} from '@parley/protocol';
import { z } from 'zod';
import type { Clock } from '../../clock.ts';
import { principalOf } from '../../http/auth-hook.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import { incidentFeedAtom } from './incident-feed-atom.ts';
import { presentPublicIncident, presentTenantIncident } from './incident-presenter.ts';
import type { IncidentService } from './incident-service.ts';

const incidentParams = z.object({ incidentId: z.uuid() }).strict();
/** What a tenant sees of incidents is for those who read its audit log (owners, admins, compliance officers). */
const tenantReader = { kind: 'authenticated', scope: 'admin', permission: 'audit.read' } as const;

/** Incidents as tenants, their users and the public see them. */
export function tenantIncidentRoutes({
  incidents,
  clock,
  publicUrl,
}: {
  incidents: IncidentService;
  clock: Clock;
  /** The installation's public base URL (the Atom feed names itself with it). */
  publicUrl: () => string;
}): RouteDeclaration[] {
  return [
    {
      method: 'GET',
      url: '/v1/incidents',
      operationId: 'listTenantIncidents',
      summary:
        'The incidents that concern this tenant, with its own share only (affected users, kinds of record, notice, RCA).',
      tags: ['incidents'],
      access: tenantReader,
      schema: { response: { 200: tenantIncidentList } },
      handler: async (request) => ({
        incidents: (await incidents.forTenant(principalOf(request).tenantId)).map(presentTenantIncident),
      }),
    },
    {
      method: 'POST',
      url: '/v1/incidents/:incidentId/rca-request',
      operationId: 'requestIncidentRca',
      summary: 'Ask the operator for the root cause analysis of an incident that concerns this tenant.',
      tags: ['incidents'],
      access: tenantReader,
      schema: { params: incidentParams },
      handler: async (request, reply) => {
        await incidents.requestRca(principalOf(request), incidentParams.parse(request.params).incidentId);
        return reply.code(204).send();
      },
    },
    {
      method: 'GET',
      url: '/v1/incidents/:incidentId/rca',
      operationId: 'getIncidentRca',
      summary:
        'Download the root cause analysis of an incident that concerns this tenant, once attached (else 404).',
      tags: ['incidents'],
      access: tenantReader,
      schema: { params: incidentParams, response: { 200: incidentRca } },
      handler: async (request) => {
        const rca = await incidents.rcaFor(
          principalOf(request),
          incidentParams.parse(request.params).incidentId,
        );
        return {
          incidentId: rca.incidentId,
          text: rca.text,
          attachedAt: new Date(rca.attachedAt).toISOString(),
        };
      },
    },
    {
      method: 'GET',
      url: '/v1/me/incident-notices',
      operationId: 'listMyIncidentNotices',
      summary: 'Incident notices for the signed-in user (the in-app copy of the e-mail), newest first.',
      tags: ['incidents'],
      access: { kind: 'authenticated', scope: 'profile', permission: 'profile.read' },
      schema: { response: { 200: incidentUserNoticeList } },
      handler: async (request) => {
        const principal = principalOf(request);
        const rows =
          principal.userId === null ? [] : await incidents.userNotices(principal.tenantId, principal.userId);
        return {
          notices: rows.map((row) => ({
            id: row.id,
            incidentId: row.incidentId,
            message: row.message ?? '',
            createdAt: new Date(row.createdAt).toISOString(),
          })),
        };
      },
    },
    {
      method: 'GET',
      url: '/v1/incident-feed',
      operationId: 'getIncidentFeed',
      summary:
        'Public feed of general incidents as JSON: title, public summary, severity, status, times; no personal data.',
      tags: ['incidents'],
      access: { kind: 'public' },
      schema: { response: { 200: publicIncidentFeed } },
      handler: async () => ({ incidents: (await incidents.publicFeed()).map(presentPublicIncident) }),
    },
    {
      method: 'GET',
      url: '/v1/incident-feed.atom',
      operationId: 'getIncidentFeedAtom',
      summary: 'The public feed of general incidents as Atom 1.0.',
      tags: ['incidents'],
      access: { kind: 'public' },
      produces: 'application/atom+xml',
      schema: { response: { 200: z.string() } },
      handler: async (_request, reply) => {
        const entries = (await incidents.publicFeed()).map(presentPublicIncident);
        const feedUrl = `${publicUrl()}/v1/incident-feed.atom`;
        return reply
          .type('application/atom+xml; charset=utf-8')
          .send(incidentFeedAtom(entries, feedUrl, clock.now()));
      },
    },
  ];
}
