import {
  staffAccountList,
  staffEnrolmentRequest,
  staffRoles,
  staffSelf,
  staffSession,
  staffSignInRequest,
} from '@parley/protocol';
import { staffOf } from '../http/auth-hook.ts';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { StaffService } from './staff-service.ts';

/**
 * Operator staff's own routes under `/v1/platform/…`: enrolment and sign-in (public: they take credentials,
 * not a token), then routes for staff tokens only. Tenant tokens are answered 404 here (http/auth-hook.ts).
 */
export function staffRoutes({ staff }: { staff: StaffService }): RouteDeclaration[] {
  return [
    {
      method: 'POST',
      url: '/v1/platform/enrolment',
      operationId: 'enrolStaff',
      summary:
        'Complete a staff enrolment: the one-time token from `parley staff create`, a new password and a current TOTP code.',
      tags: ['platform'],
      access: { kind: 'public' },
      schema: { body: staffEnrolmentRequest },
      handler: async (request, reply) => {
        await staff.enrol(staffEnrolmentRequest.parse(request.body));
        return reply.code(204).send();
      },
    },
    {
      method: 'POST',
      url: '/v1/platform/sessions',
      operationId: 'signInStaff',
      summary:
        'Sign a staff member in with password and TOTP code (both, always); answers a staff token for /v1/platform/… only.',
      tags: ['platform'],
      access: { kind: 'public' },
      schema: { body: staffSignInRequest, response: { 201: staffSession } },
      handler: async (request, reply) => {
        const issued = await staff.signIn(staffSignInRequest.parse(request.body));
        return reply.code(201).send({
          accessToken: issued.accessToken,
          tokenType: 'Bearer',
          expiresAt: new Date(issued.expiresAt).toISOString(),
        });
      },
    },
    {
      method: 'DELETE',
      url: '/v1/platform/sessions/current',
      operationId: 'signOutStaff',
      summary: 'End the calling staff session.',
      tags: ['platform'],
      access: { kind: 'platform', roles: staffRoles },
      handler: async (request, reply) => {
        await staff.signOut(staffOf(request));
        return reply.code(204).send();
      },
    },
    {
      method: 'GET',
      url: '/v1/platform/me',
      operationId: 'getStaffSelf',
      summary: 'The calling staff member: id, role and session.',
      tags: ['platform'],
      access: { kind: 'platform', roles: staffRoles },
      schema: { response: { 200: staffSelf } },
      handler: (request) => {
        const caller = staffOf(request);
        return Promise.resolve({ id: caller.staffId, role: caller.role, sessionId: caller.sessionId });
      },
    },
    {
      method: 'GET',
      url: '/v1/platform/staff',
      operationId: 'listStaff',
      summary: 'Every staff account with its role and whether it is enrolled (platform admins only).',
      tags: ['platform'],
      access: { kind: 'platform', roles: ['platform_admin'] },
      schema: { response: { 200: staffAccountList } },
      handler: async () => ({ staff: await staff.list() }),
    },
  ];
}
