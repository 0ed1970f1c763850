/**
 * The one catalogue of API error codes. Every error a client can see is listed here with its HTTP status
 * and a fixed, safe message; `docs/errors.md` is kept equal to it by a test.
 */
export const errorCatalogue = {
  malformed_json: { status: 400, message: 'The request body is not valid JSON.' },
  validation_failed: { status: 400, message: 'The request does not match the expected schema.' },
  bad_request: { status: 400, message: 'The request is malformed.' },
  invalid_cursor: {
    status: 400,
    message: 'The cursor is not one this list gave out for these filters; start again without it.',
  },
  token_in_query: {
    status: 400,
    message: 'Access tokens are accepted only in the Authorization header, never in the URL.',
  },
  password_policy: { status: 400, message: 'The password does not meet the password policy.' },
  retention_rule_too_short: { status: 400, message: 'A retention rule is shorter than its minimum.' },
  retention_below_legal_minimum: {
    status: 400,
    message: 'An audit retention rule is under the legal minimum the tenant chose.',
  },
  retention_rules_conflict: { status: 400, message: 'Two retention rules contradict each other.' },
  unauthorized: { status: 401, message: 'Authentication is required.' },
  invalid_token: { status: 401, message: 'The access token is invalid, expired or revoked.' },
  invalid_credentials: { status: 401, message: 'The credentials are not valid.' },
  mfa_code_reused: { status: 401, message: 'This code was already used; wait for the next one.' },
  staff_enrolment_invalid: {
    status: 401,
    message: 'The staff enrolment token is not valid, expired or already used.',
  },
  forbidden: { status: 403, message: 'You are not allowed to do this.' },
  support_access_forbidden: { status: 403, message: 'This tenant does not allow operator support access.' },
  grant_not_approved: { status: 403, message: 'This support access grant is not approved.' },
  grant_expired: { status: 403, message: 'This support access grant has expired.' },
  grant_revoked: { status: 403, message: 'This support access grant was revoked.' },
  support_scope_exceeded: {
    status: 403,
    message: 'This request is outside the approved support access scope.',
  },
  self_approval: {
    status: 403,
    message: 'Support access cannot be approved, refused or revoked under a support grant.',
  },
  mfa_code_required: {
    status: 403,
    message: 'This account has MFA: send a current TOTP code or a recovery code with the password.',
  },
  retention_longer_than_tenant: {
    status: 403,
    message: 'Only an administrator with retention.manage keeps a dialog longer than the tenant’s rule.',
  },
  account_restricted: {
    status: 403,
    message: 'Processing of this account is restricted; it cannot sign in or be changed.',
  },
  blocked: { status: 403, message: 'One of you has blocked the other.' },
  edit_window_closed: { status: 403, message: 'This message can no longer be edited.' },
  insufficient_scope: { status: 403, message: 'The access token lacks the scope this request needs.' },
  consent_required: {
    status: 403,
    message: 'The current version of every required processing purpose must be accepted first.',
  },
  not_found: { status: 404, message: 'The resource does not exist.' },
  route_not_found: { status: 404, message: 'No route matches this path.' },
  method_not_allowed: { status: 405, message: 'This path does not support this method.' },
  not_acceptable: { status: 406, message: 'The requested representation is not available.' },
  request_timeout: { status: 408, message: 'The request was not received in time.' },
  conflict: { status: 409, message: 'The request conflicts with the current state.' },
  delay_reason_required: {
    status: 409,
    message: 'This clock has passed: give the reason for the delay with this notification.',
  },
  incident_actions_open: {
    status: 409,
    message: 'The incident has corrective actions not done yet; it cannot close.',
  },
  incident_rca_missing: {
    status: 409,
    message: 'Attach the root cause analysis before closing the incident.',
  },
  incident_closed: { status: 409, message: 'The incident is closed.' },
  incident_unscoped: { status: 409, message: 'Scope the incident from evidence before notifying anyone.' },
  nondisclosure_in_force: {
    status: 409,
    message: 'A non-disclosure order forbids telling the tenant until it ends.',
  },
  tenant_notice_required: {
    status: 409,
    message: 'The tenant must be notified before disclosure (no non-disclosure order is in force).',
  },
  legal_request_not_approved: { status: 409, message: 'This request was not approved for disclosure.' },
  legal_scope_not_within_order: {
    status: 400,
    message: 'The approved scope must lie within the order: its accounts, dialogs, time range and kinds.',
  },
  legal_scope_undefined: {
    status: 409,
    message: 'The request has no approved scope the export engine can select records by (scopeSpec).',
  },
  legal_package_exists: {
    status: 409,
    message: 'A disclosure package of this request is being built or is ready.',
  },
  legal_package_not_ready: { status: 409, message: 'The disclosure package is not ready.' },
  legal_package_mismatch: {
    status: 409,
    message: 'The hash given is not the hash of the disclosure package built for this request.',
  },
  legal_package_expired: {
    status: 410,
    message: 'The disclosure package’s download window ended and it was destroyed.',
  },
  support_review_hash_mismatch: {
    status: 409,
    message: 'The report hash does not match the support review report of this window now: read it again.',
  },
  risk_assessment_required: {
    status: 409,
    message: 'A major change is done only once it links a risk assessment.',
  },
  grant_not_pending: { status: 409, message: 'This support access request was already decided.' },
  consent_version_stale: {
    status: 409,
    message: 'A processing purpose changed since it was read; read the current version and accept that.',
  },
  already_restricted: { status: 409, message: 'Processing of this account is already restricted.' },
  legal_hold_active: {
    status: 409,
    message: 'A legal hold covers this data; it cannot be deleted until the hold ends.',
  },
  not_restricted: { status: 409, message: 'Processing of this account is not restricted.' },
  request_closed: { status: 409, message: 'The data subject request is already closed.' },
  erasure_scheduled: { status: 409, message: 'An erasure of this account is already scheduled or running.' },
  erasure_started: {
    status: 409,
    message: 'The erasure has started (its grace period is over); it can no longer be cancelled.',
  },
  deadline_extension_limit: {
    status: 409,
    message: 'A data subject request may be extended to at most 90 days after it was received.',
  },
  call_too_large: { status: 409, message: 'A call has at most 8 participants.' },
  dialog_full: { status: 409, message: 'The dialog has reached the tenant’s member limit.' },
  too_many_reactions: { status: 409, message: 'This message has the most different reactions allowed.' },
  export_in_progress: { status: 409, message: 'An export of this user is already being prepared.' },
  export_not_ready: { status: 409, message: 'The export archive is still being prepared.' },
  export_failed: { status: 409, message: 'The export could not be completed; request a new one.' },
  subject_erased: { status: 409, message: 'The user was erased; there is nothing left to export.' },
  tenant_closed: {
    status: 409,
    message:
      'The tenant is closed: it is read-only until it is reopened or purged; reads and exports still work.',
  },
  tenant_not_closed: { status: 409, message: 'The tenant is not closed.' },
  tenant_purge_started: {
    status: 409,
    message: 'The tenant is being purged or was purged; it can no longer be reopened.',
  },
  tenant_purge_not_due: { status: 409, message: 'The tenant’s export window has not ended yet.' },
  tenant_on_hold: { status: 409, message: 'A legal hold exists in this tenant; it cannot be purged.' },
  gone: { status: 410, message: 'The token was already used or has expired.' },
  export_expired: { status: 410, message: 'The export archive expired and was destroyed.' },
  export_destroyed: { status: 410, message: 'The export archive was deleted.' },
  tenant_purged: { status: 410, message: 'The tenant was closed and its data purged.' },
  payload_too_large: { status: 413, message: 'The request body is larger than the configured limit.' },
  message_too_large: { status: 413, message: 'The message text is longer than the tenant allows.' },
  attachment_too_large: { status: 413, message: 'The attachment is larger than this tenant allows.' },
  uri_too_long: { status: 414, message: 'The request path is longer than the server accepts.' },
  unsupported_media_type: { status: 415, message: 'The request body has an unsupported content type.' },
  range_not_satisfiable: { status: 416, message: 'The requested range lies outside the content.' },
  expectation_failed: { status: 417, message: 'The server cannot meet the request’s Expect header.' },
  account_locked: { status: 429, message: 'Too many failed attempts; try again later.' },
  rate_limited: { status: 429, message: 'Too many requests; slow down.' },
  export_rate_limited: {
    status: 429,
    message: 'Too many exports were requested for this user or tenant; try again later.',
  },
  headers_too_large: { status: 431, message: 'The request headers are larger than the server accepts.' },
  internal_error: { status: 500, message: 'An internal error occurred.' },
  service_unavailable: { status: 503, message: 'The service is temporarily unavailable.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export const errorCodes = Object.keys(errorCatalogue) as ErrorCode[];

/** The uniform error body every non-OAuth endpoint answers with. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string };
}
