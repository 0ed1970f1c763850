import type { ComplianceControl, ComplianceReport, SignedComplianceReport } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { SigningKeys } from '../../crypto/signing-keys.ts';
import { newId } from '../../ids.ts';
import type { AuditInput } from '../audit/audit-entry.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/request-context.ts';
import { parleyVersion } from '../../version.ts';
import { type ControlId, controlIds } from './evidence-controls.ts';
import { signReport, verifyReport } from './evidence-signature.ts';
import type { EvidenceSources } from './evidence-sources.ts';
import { evidenceStore } from './evidence-store.ts';
import { isoOrNull, worstOf } from './evidence-verdict.ts';
import {
  auditLogControl,
  backupsControl,
  encryptionAtRestControl,
  incidentsControl,
  keyManagementControl,
  riskReviewsControl,
  tlsControl,
} from './installation-controls.ts';
import { readTenantFacts } from './tenant-facts.ts';
import {
  consentControl,
  dataSubjectRequestsControl,
  mfaControl,
  passwordPolicyControl,
  retentionControl,
  rolesControl,
  supportAccessControl,
} from './tenant-controls.ts';

const RETENTION_TASK = 'retention.sweep';

/**
 * The compliance evidence report (issue 17 point 5, docs/compliance.md "Evidence report"): every control
 * computed from live state at the moment it is asked for, signed with the audit signing key so a copy can
 * be checked later. A tenant's report holds the installation controls and that tenant's own; nothing of
 * another tenant is read.
 */
export function createEvidenceReportService(
  deps: EvidenceSources & {
    signingKeys: Pick<SigningKeys, 'sign' | 'verify' | 'currentKeyId'>;
    audit?: Pick<AuditLog, 'append'> | undefined;
  },
) {
  const { storage, clock } = deps;

  async function publicKeyOf(keyId: string): Promise<string> {
    const row = await storage.withSystem((tx) =>
      tx.selectFrom('signing_keys').select('public_key').where('id', '=', keyId).executeTakeFirst(),
    );
    if (!row) throw new Error(`signing key ${keyId} not found`);
    return row.public_key;
  }

  async function tenantControls(tenantId: string) {
    const now = clock.now();
    const facts = await storage.withTenant(tenantId, (tx) => readTenantFacts(tx, tenantId, now));
    if (!facts) throw new AppError('not_found', 'No such tenant.');
    // Each read below opens its own transaction, after the tenant's one closed: never nested.
    const rules = await deps.retentionRules(tenantId);
    const task = await storage.withSystem((tx) => evidenceStore.scheduledTask(tx, RETENTION_TASK));
    const review = deps.supportReview ? await deps.supportReview(now) : undefined;
    const controls: ComplianceControl[] = [
      await keyManagementControl(deps, {
        keys: facts.keys,
        rotationPending: facts.tenant.key_rotation_pending === 1,
      }),
      await auditLogControl(deps, tenantId),
      await incidentsControl(deps, facts.incidentIds),
      mfaControl(facts),
      passwordPolicyControl(facts),
      rolesControl(facts),
      retentionControl(facts, rules, task, now),
      consentControl(facts),
      dataSubjectRequestsControl(facts, now),
      supportAccessControl(facts, review, now),
    ];
    return { tenant: { id: facts.tenant.id, name: facts.tenant.name }, controls };
  }

  async function build(input: {
    tenantId?: string | undefined;
    requestedBy: string;
  }): Promise<ComplianceReport> {
    const generatedAt = clock.now();
    const scoped =
      input.tenantId === undefined
        ? {
            tenant: null,
            controls: [
              await keyManagementControl(deps, undefined),
              await auditLogControl(deps, undefined),
              await incidentsControl(deps, 'all'),
            ],
          }
        : await tenantControls(input.tenantId);
    const controls = [
      tlsControl(deps),
      encryptionAtRestControl(deps),
      await backupsControl(deps),
      await riskReviewsControl(deps),
      ...scoped.controls,
    ].sort((a, b) => controlIds.indexOf(a.id as ControlId) - controlIds.indexOf(b.id as ControlId));
    const count = (status: ComplianceControl['status']) => controls.filter((c) => c.status === status).length;
    return {
      format: 'parley-compliance-report/1',
      reportId: newId(),
      generatedAt: isoOrNull(generatedAt) ?? '',
      requestedBy: input.requestedBy,
      installation: { version: parleyVersion },
      tenant: scoped.tenant,
      overall: worstOf(controls.map((control) => control.status)),
      counts: { met: count('met'), attention: count('attention'), not_met: count('not_met') },
      controls,
    };
  }

  return {
    /**
     * Builds the report from live state now and signs it. A tenant's report is recorded in its audit chain
     * (after the build: the build verifies that chain, and reads nothing inside a transaction of its own).
     */
    async issue(input: {
      tenantId?: string | undefined;
      requestedBy: string;
      actor?: (AuditInput['actor'] & RequestContext) | undefined;
    }): Promise<SignedComplianceReport> {
      const report = await build(input);
      const signed = signReport(deps.signingKeys, report, await publicKeyOf(deps.signingKeys.currentKeyId));
      const { tenantId, actor } = input;
      if (tenantId !== undefined && deps.audit) {
        const audit = deps.audit;
        await storage.withTenant(tenantId, (tx) =>
          audit.append(tx, tenantId, {
            actor: { type: actor?.type ?? 'system', id: actor?.id, sessionId: actor?.sessionId },
            action: 'compliance.report_issued',
            target: { type: 'compliance_report', id: report.reportId },
            outcome: 'success',
            ip: actor?.ip,
            userAgent: actor?.userAgent,
            requestId: actor?.requestId,
            details: { overall: report.overall, keyId: signed.keyId, via: actor ? 'api' : 'cli' },
          }),
        );
      }
      return signed;
    },

    /** Checks a copy: intact, and signed by one of this server's trusted audit keys. */
    verify: (copy: unknown) => verifyReport(copy, deps.signingKeys),
  };
}

export type EvidenceReportService = ReturnType<typeof createEvidenceReportService>;
