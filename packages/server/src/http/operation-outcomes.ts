import { auditPage, type ErrorCode, signedComplianceReport } from '@parley/protocol';
import { z } from 'zod';
import type { AuditPage } from '../compliance/audit/audit-log.ts';
import type { RouteDocumentation } from './route-table.ts';

/**
 * What operations answer beyond what their declarations show, by operationId, for `/openapi.json`: the
 * answers without a body (204, 202) and binary or streamed ones, and the coded errors their services throw.
 * What a declaration does show is derived (openapi-errors.ts): access → 401/403, path parameters → 404, a body →
 * 400/413/415, and the errors every request can meet. The contract tests send real requests and fail on any
 * answer an operation does not document, so a new service error needs its row here.
 */
export interface OperationOutcomes extends RouteDocumentation {
  errors?: readonly ErrorCode[];
}

const noContent = (description: string) => ({ 204: { description } });
const accepted = (description: string) => ({ 202: { description } });
const binary = z.unknown().meta({ type: 'string', format: 'binary' });

/** An export archive's download and the states in which there is none to give. */
const exportDownload: OperationOutcomes = {
  responses: { 200: { description: 'The archive: a .tar.gz of JSON files and uploads.', schema: binary } },
  errors: ['export_not_ready', 'export_failed', 'export_expired', 'export_destroyed'],
};

type Holds<Check extends true> = Check;
/** Compile-time: the documented audit page describes every field the server sends (AuditPage). */
export type AuditPageDocumented = Holds<AuditPage extends z.output<typeof auditPage> ? true : false>;

export const operationOutcomes: Readonly<Record<string, OperationOutcomes>> = {
  getOpenApiDocument: {
    responses: {
      200: { description: 'The OpenAPI 3.1 document.', schema: z.record(z.string(), z.unknown()) },
    },
  },
  getAsyncApiDocument: {
    responses: {
      200: { description: 'The AsyncAPI 3.0 document.', schema: z.record(z.string(), z.unknown()) },
    },
  },
  endMySessions: { responses: noContent('Signed out.') },
  endMySession: { responses: noContent('That device is signed out.') },
  endUserSession: { responses: noContent('That device of the user is signed out.') },
  deleteCustomRole: { responses: noContent('The role is deleted.'), errors: ['conflict'] },
  deleteClient: { responses: noContent('The client is deleted; its tokens ended.') },
  changeMyPassword: {
    responses: noContent('Changed; every other session is signed out.'),
    errors: ['invalid_credentials', 'password_policy', 'account_locked', 'conflict'],
  },
  enrollTotp: { errors: ['invalid_credentials', 'conflict'] },
  confirmTotp: { errors: ['invalid_credentials', 'conflict'] },
  disableTotp: {
    responses: noContent('MFA is off.'),
    errors: ['invalid_credentials', 'mfa_code_reused', 'account_locked', 'conflict'],
  },
  resetUserMfa: { responses: noContent('The user’s MFA is reset.'), errors: ['account_restricted'] },
  requestPasswordReset: {
    responses: accepted('If the address belongs to an active user, a reset link is on its way.'),
    errors: ['rate_limited'],
  },
  confirmPasswordReset: {
    responses: noContent('The password is set; every session is signed out.'),
    errors: ['invalid_credentials', 'gone', 'password_policy'],
  },
  requestEmailVerification: {
    responses: accepted('A verification link is on its way.'),
    errors: ['not_found', 'conflict', 'rate_limited'],
  },
  verifyEmail: { responses: noContent('The address is verified.'), errors: ['invalid_credentials', 'gone'] },
  requestMyEmailChange: {
    responses: accepted('A confirmation link is on its way to the new address.'),
    errors: ['invalid_credentials', 'account_locked', 'conflict', 'rate_limited'],
  },
  confirmEmailChange: {
    responses: noContent('The new address is on file, confirmed.'),
    errors: ['invalid_credentials', 'gone', 'conflict', 'account_restricted'],
  },
  recordPrivacyRequest: { errors: ['not_found', 'conflict'] },
  updatePrivacyRequest: { errors: ['request_closed'] },
  extendPrivacyRequest: { errors: ['request_closed', 'deadline_extension_limit'] },
  restrictUser: { errors: ['already_restricted', 'request_closed', 'conflict'] },
  liftUserRestriction: { responses: noContent('The restriction is lifted.'), errors: ['not_restricted'] },
  deleteMe: {
    errors: [
      'invalid_credentials',
      'mfa_code_reused',
      'mfa_code_required',
      'account_locked',
      'not_found',
      'erasure_scheduled',
      'conflict',
      'rate_limited',
    ],
  },
  requestMyErasure: {
    errors: [
      'invalid_credentials',
      'mfa_code_reused',
      'mfa_code_required',
      'account_locked',
      'not_found',
      'erasure_scheduled',
      'conflict',
      'rate_limited',
    ],
  },
  getMyErasure: { errors: ['not_found'] },
  cancelMyErasure: { errors: ['not_found', 'erasure_started', 'request_closed', 'rate_limited'] },
  eraseUser: { errors: ['erasure_scheduled', 'request_closed', 'conflict', 'rate_limited'] },
  cancelUserErasure: { errors: ['erasure_started', 'request_closed', 'rate_limited'] },
  rectifyUser: { errors: ['account_restricted', 'request_closed', 'conflict'] },
  setUpTenantOwner: {
    errors: [
      'invalid_credentials',
      'gone',
      'conflict',
      'password_policy',
      'consent_required',
      'consent_version_stale',
    ],
  },
  signUp: {
    errors: ['forbidden', 'gone', 'conflict', 'password_policy', 'consent_required', 'consent_version_stale'],
  },
  createUser: { errors: ['conflict', 'password_policy'] },
  listTenantUsers: { errors: ['invalid_cursor'] },
  setUserStatus: { responses: noContent('The status is set.'), errors: ['account_restricted'] },
  setUserRoles: { responses: noContent('The roles are set.'), errors: ['account_restricted'] },
  defineRole: { responses: noContent('The role is defined.'), errors: ['conflict'] },
  createDialog: { errors: ['not_found', 'blocked', 'dialog_full'] },
  joinDialog: { errors: ['dialog_full'] },
  deleteDialog: { responses: noContent('Left or deleted.') },
  addDialogMembers: { errors: ['dialog_full'] },
  removeDialogMember: { responses: noContent('Removed.') },
  updateDialogMember: { responses: noContent('The member’s role is set.') },
  sendMessage: { errors: ['blocked', 'conflict', 'message_too_large', 'rate_limited'] },
  editMessage: { errors: ['edit_window_closed', 'message_too_large', 'rate_limited'] },
  addReaction: { errors: ['too_many_reactions'] },
  markRead: { responses: noContent('The read position moved (it never moves back).') },
  markDelivered: { responses: noContent('The delivered position moved (it never moves back).') },
  setPresenceVisibility: { responses: noContent('Set.'), errors: ['not_found'] },
  blockUser: { responses: noContent('Blocked.') },
  unblockUser: { responses: noContent('Unblocked.') },
  getIceServers: { errors: ['rate_limited'] },
  listAuditEntries: {
    responses: {
      200: {
        description: 'A page of entries (format=json), or the whole selection as JSON lines (format=jsonl).',
        content: {
          'application/json': auditPage,
          'application/x-ndjson': z.string().meta({ description: 'One AuditEntry as JSON per line.' }),
        },
      },
    },
  },
  // A dialogId of another tenant (a query parameter, so not derived from the path).
  listAccessRecords: { errors: ['not_found'] },
  uploadAttachment: { errors: ['attachment_too_large'] },
  downloadAttachment: {
    responses: {
      200: { description: 'The whole file, as its sniffed type.', schema: binary },
      206: { description: 'The requested byte range (`Content-Range`).', schema: binary },
    },
    errors: ['range_not_satisfiable'],
  },
  removeAttachment: { responses: noContent('Removed for everyone.') },
  grantConsent: { errors: ['consent_version_stale'] },
  createConsentPurpose: { errors: ['conflict'] },
  requestMyExport: { errors: ['export_in_progress', 'export_rate_limited'] },
  requestUserExport: { errors: ['subject_erased', 'export_in_progress', 'export_rate_limited'] },
  downloadMyExport: exportDownload,
  downloadExport: exportDownload,
  deleteMyExport: { responses: noContent('The archive is deleted, or its preparation stopped.') },
  deleteExport: { responses: noContent('The archive is deleted, or its preparation stopped.') },
  closeTenant: { errors: ['tenant_closed', 'tenant_purge_started', 'tenant_purged'] },
  reopenTenant: { errors: ['tenant_not_closed', 'tenant_purge_started'] },
  enrolStaff: {
    responses: noContent('Enrolled: the password is set and the TOTP secret confirmed.'),
    errors: ['staff_enrolment_invalid', 'invalid_credentials', 'password_policy'],
  },
  signInStaff: { errors: ['invalid_credentials', 'mfa_code_reused', 'account_locked'] },
  signOutStaff: { responses: noContent('The staff session ended.') },
  requestSupportGrant: { errors: ['support_access_forbidden'] },
  approveSupportGrant: { errors: ['grant_not_pending'] },
  refuseSupportGrant: { errors: ['grant_not_pending'] },
  revokeSupportGrant: { errors: ['grant_not_pending'] },
  openIncident: { errors: ['validation_failed'] },
  updateIncident: { errors: ['incident_closed'] },
  scopeIncident: { errors: ['validation_failed', 'incident_closed'] },
  notifyIncidentTenants: { errors: ['incident_unscoped', 'delay_reason_required', 'incident_closed'] },
  notifyIncidentUsers: { errors: ['incident_unscoped', 'delay_reason_required', 'incident_closed'] },
  recordIncidentAuthorityNotification: {
    errors: ['validation_failed', 'delay_reason_required', 'conflict', 'incident_closed'],
  },
  addIncidentAction: { errors: ['incident_closed'] },
  completeIncidentAction: { errors: ['conflict', 'incident_closed'] },
  attachIncidentRca: { errors: ['incident_closed'] },
  closeIncident: { errors: ['incident_rca_missing', 'incident_actions_open', 'incident_closed'] },
  requestIncidentRca: { responses: noContent('The request is recorded (in the tenant’s audit log too).') },
  getSupportReviewReport: { errors: ['validation_failed'] },
  signSupportReview: { errors: ['validation_failed', 'support_review_hash_mismatch'] },
  getComplianceReport: {
    responses: {
      200: {
        description:
          'The signed evidence report (format=json), or the same as a printable HTML page (format=html).',
        content: {
          'application/json': signedComplianceReport,
          'text/html': z.string().meta({ description: 'The report as HTML, the signed JSON embedded.' }),
        },
      },
    },
  },
  reviewRisk: { errors: ['validation_failed'] },
  createRisk: { errors: ['validation_failed'] },
  assessChangeRecord: { errors: ['conflict'] },
  completeChangeRecord: { errors: ['risk_assessment_required', 'conflict'] },
  exportRisksCsv: {
    responses: { 200: { description: 'The risk register as CSV.', schema: z.string() } },
  },
  registerLegalRequest: { errors: ['validation_failed'] },
  reviewLegalRequest: { errors: ['validation_failed', 'conflict', 'legal_scope_not_within_order'] },
  notifyLegalRequestTenant: { errors: ['nondisclosure_in_force'] },
  recordLegalRequestDisclosure: {
    errors: [
      'legal_request_not_approved',
      'tenant_notice_required',
      'legal_package_not_ready',
      'legal_package_mismatch',
    ],
  },
  buildLegalRequestPackage: {
    errors: [
      'legal_request_not_approved',
      'tenant_notice_required',
      'legal_scope_undefined',
      'legal_package_exists',
    ],
  },
  downloadLegalRequestPackage: {
    responses: { 200: { description: 'The disclosure package: a .tar.gz of JSON files.', schema: binary } },
    errors: ['legal_package_not_ready', 'legal_package_expired'],
  },
  getIncidentFeedAtom: {
    responses: { 200: { description: 'The Atom 1.0 feed.', schema: z.string() } },
  },
};
