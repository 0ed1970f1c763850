import type {
  ConsentPurpose,
  DataSubjectRequestBody,
  DataSubjectRequestKind,
  LegalHoldTarget,
  LegalHoldView,
  PurposeCoverage,
  RetentionRulesBody,
  SupportScope,
  UpdateDataSubjectRequestBody,
} from '@parley/protocol';
import type { Requester } from './account-client.ts';
import type { RawRequester } from './rest/raw-request.ts';
import { path, withQuery } from './rest/rest-path.ts';

export type {
  DataSubjectRequestBody,
  LegalHoldView,
  PurposeCoverage,
  RetentionRulesBody,
  SupportScope,
  UpdateDataSubjectRequestBody,
};

/** One entry of the tenant's audit log (`GET /v1/audit`; protocol schema `AuditEntry`). */
export interface AuditEntry {
  id: string;
  seq: number;
  occurredAt: string;
  actor: { type: 'user' | 'staff' | 'system' | 'client'; id: string | null; sessionId: string | null };
  action: string;
  target: { type: string; id: string | null } | null;
  outcome: 'success' | 'failure' | 'denied';
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
  hash: string;
}

/** Filters of `GET /v1/audit`: `action` may end in `.*` (a prefix, like `auth.*`); times are ISO 8601. */
export interface AuditFilter {
  action?: string | undefined;
  actorId?: string | undefined;
  actorType?: AuditEntry['actor']['type'] | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/** What `POST /v1/audit/verification` found (protocol schema `AuditVerification`). */
export interface AuditVerification {
  ok: boolean;
  entries: number;
  checkpoints?: number;
  prunedThrough?: { seq: number; prunedAt: string; olderThan: string };
  firstBad?: { seq: number; id?: string; reason: string };
  verifiedAt: string;
}

/** An operator's support access request or grant (protocol schema `SupportGrant`). */
export interface SupportGrant {
  id: string;
  tenantId: string;
  staffId: string;
  reason: string;
  scope: SupportScope;
  dialogIds: string[] | null;
  durationHours: number;
  status: 'pending' | 'approved' | 'refused' | 'revoked';
  requestedAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** An approval as asked, or narrower: a smaller scope, fewer dialogs, fewer hours. */
export interface SupportGrantApproval {
  scope?: SupportScope;
  dialogIds?: string[];
  durationHours?: number;
}

/** One request staff made under a grant (protocol schema `SupportGrantAccess`). */
export interface SupportGrantAccess {
  occurredAt: string;
  staffId: string | null;
  operation: string;
  method: string;
  path: string;
  outcome: 'success' | 'failure' | 'denied';
  refusal: string | null;
  requestId: string | null;
}

/** An incident that concerns the tenant, its own share only (protocol schema `TenantIncident`). */
export interface TenantIncident {
  id: string;
  title: string;
  severity: string;
  status: string;
  awareAt: string;
  dataCategories: string[];
  affectedUsers: number;
  recordKinds: string[];
  notifiedAt: string | null;
  rcaAvailable: boolean;
  rcaRequestedAt: string | null;
}

/** One control of the evidence report: a promise, its legal mapping, and how it stands now. */
export interface ComplianceControl {
  id: string;
  title: string;
  promise: string;
  hipaa: string[];
  gdpr: string[];
  scope: 'installation' | 'tenant';
  status: 'met' | 'attention' | 'not_met';
  findings: string[];
  evidence: Record<string, unknown>;
}

/** `GET /v1/compliance/report`: the report, signed with the installation's audit key (Ed25519). */
export interface SignedComplianceReport {
  report: {
    format: string;
    reportId: string;
    generatedAt: string;
    requestedBy: string;
    installation: { version: string };
    tenant: { id: string; name: string } | null;
    overall: ComplianceControl['status'];
    counts: { met: number; attention: number; not_met: number };
    controls: ComplianceControl[];
  };
  signature: string;
  keyId: string;
  publicKey: string;
  algorithm: string;
}

export interface PlaceLegalHoldRequest {
  targetType: LegalHoldTarget;
  targetId?: string;
  reason: string;
  endsAt?: string;
}

/**
 * The tenant's compliance routes, for compliance officers and administrators (docs/compliance.md): the audit
 * log and its verification (token scope `audit`), processing purposes and their coverage, data subject
 * requests, retention rules and legal holds, support access, and incidents (scope `admin`). The server checks
 * each call against the signed-in role's permissions.
 */
export class ComplianceClient {
  readonly #rest: Requester & RawRequester;

  constructor(rest: Requester & RawRequester) {
    this.#rest = rest;
  }

  /** A page of the audit log, newest first unless `order` says otherwise; pass `nextCursor` for the next. */
  auditPage(
    filter: AuditFilter,
    page: { cursor?: string | undefined; limit?: number; order?: 'asc' | 'desc' } = {},
  ): Promise<{ entries: AuditEntry[]; nextCursor?: string }> {
    return this.#rest.request('GET', withQuery('/v1/audit', { ...filter, ...page, format: 'json' }));
  }

  /** The whole selection as JSON lines (one entry per line): the export, itself recorded as `audit.exported`. */
  async auditExport(filter: AuditFilter): Promise<Blob> {
    const response = await this.#rest.requestRaw(
      'GET',
      withQuery('/v1/audit', { ...filter, format: 'jsonl' }),
    );
    return response.blob();
  }

  /** Recomputes the tenant's audit hash chain now (it reads the whole chain). */
  verifyAudit(): Promise<AuditVerification> {
    return this.#rest.request('POST', '/v1/audit/verification');
  }

  async purposes(): Promise<ConsentPurpose[]> {
    return (await this.#rest.request<{ purposes: ConsentPurpose[] }>('GET', '/v1/consent-purposes')).purposes;
  }

  async consentCoverage(): Promise<PurposeCoverage[]> {
    return (await this.#rest.request<{ purposes: PurposeCoverage[] }>('GET', '/v1/consent-coverage'))
      .purposes;
  }

  /** Data subject requests: open ones soonest deadline first (each with its `overdue` flag). */
  privacyRequests(
    query: {
      status?: 'open' | 'closed' | 'all';
      overdue?: boolean;
      kind?: DataSubjectRequestKind;
      cursor?: string;
      limit?: number;
    } = {},
  ): Promise<{ requests: DataSubjectRequestBody[]; nextCursor: string | null }> {
    return this.#rest.request('GET', withQuery('/v1/privacy/requests', query));
  }

  updatePrivacyRequest(
    requestId: string,
    change: UpdateDataSubjectRequestBody,
  ): Promise<DataSubjectRequestBody> {
    return this.#rest.request('PATCH', path`/v1/privacy/requests/${requestId}`, change);
  }

  retentionRules(): Promise<RetentionRulesBody> {
    return this.#rest.request('GET', '/v1/retention');
  }

  /** Changes some rules; the server validates the result as a whole and answers all of them. */
  updateRetentionRules(change: Partial<RetentionRulesBody>): Promise<RetentionRulesBody> {
    return this.#rest.request('PATCH', '/v1/retention', change);
  }

  async legalHolds(activeOnly = false): Promise<LegalHoldView[]> {
    const url = withQuery('/v1/legal-holds', { active: activeOnly ? 'true' : undefined });
    return (await this.#rest.request<{ holds: LegalHoldView[] }>('GET', url)).holds;
  }

  placeLegalHold(hold: PlaceLegalHoldRequest): Promise<LegalHoldView> {
    return this.#rest.request('POST', '/v1/legal-holds', hold);
  }

  releaseLegalHold(holdId: string): Promise<LegalHoldView> {
    return this.#rest.request('POST', path`/v1/legal-holds/${holdId}/release`);
  }

  /** Operator support access requests and grants, newest first. */
  async supportGrants(): Promise<SupportGrant[]> {
    return (await this.#rest.request<{ grants: SupportGrant[] }>('GET', '/v1/support-grants')).grants;
  }

  approveSupportGrant(grantId: string, approval: SupportGrantApproval = {}): Promise<SupportGrant> {
    return this.#rest.request('POST', path`/v1/support-grants/${grantId}/approve`, approval);
  }

  refuseSupportGrant(grantId: string): Promise<SupportGrant> {
    return this.#rest.request('POST', path`/v1/support-grants/${grantId}/refuse`);
  }

  revokeSupportGrant(grantId: string): Promise<SupportGrant> {
    return this.#rest.request('POST', path`/v1/support-grants/${grantId}/revoke`);
  }

  /** Every request staff made under a grant, refused ones included. */
  async supportGrantAccesses(grantId: string): Promise<SupportGrantAccess[]> {
    const url = path`/v1/support-grants/${grantId}/accesses`;
    return (await this.#rest.request<{ accesses: SupportGrantAccess[] }>('GET', url)).accesses;
  }

  /** Whether operator staff may ask this tenant for support access at all. */
  async supportAllowed(): Promise<boolean> {
    return (await this.#rest.request<{ allowed: boolean }>('GET', '/v1/support-policy')).allowed;
  }

  async setSupportAllowed(allowed: boolean): Promise<boolean> {
    return (await this.#rest.request<{ allowed: boolean }>('PUT', '/v1/support-policy', { allowed })).allowed;
  }

  async incidents(): Promise<TenantIncident[]> {
    return (await this.#rest.request<{ incidents: TenantIncident[] }>('GET', '/v1/incidents')).incidents;
  }

  async requestIncidentRca(incidentId: string): Promise<void> {
    await this.#rest.request<undefined>('POST', path`/v1/incidents/${incidentId}/rca-request`);
  }

  incidentRca(incidentId: string): Promise<{ incidentId: string; text: string; attachedAt: string }> {
    return this.#rest.request('GET', path`/v1/incidents/${incidentId}/rca`);
  }

  /** The tenant's signed compliance evidence report, computed from live state now (itself audited). */
  complianceReport(): Promise<SignedComplianceReport> {
    return this.#rest.request('GET', '/v1/compliance/report?format=json');
  }

  /** The same report as HTML that prints well (signed, the signature embedded). */
  async complianceReportHtml(): Promise<Blob> {
    const response = await this.#rest.requestRaw('GET', '/v1/compliance/report?format=html', {
      headers: { accept: 'text/html' },
    });
    return response.blob();
  }
}
