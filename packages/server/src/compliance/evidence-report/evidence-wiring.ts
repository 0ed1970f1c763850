import type { Clock } from '../../clock.ts';
import type { Config } from '../../config.ts';
import type { SigningKeys } from '../../crypto/signing-keys.ts';
import { readBackupState } from '../../backup/backup-state.ts';
import type { Storage } from '../../storage/database.ts';
import { NON_TENANT_CHAINS } from '../audit/audit-entry.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RetentionRules } from '../retention/retention-rules.ts';
import { createEvidenceReportService, type EvidenceReportService } from './evidence-report.ts';
import type { EvidenceSettings, EvidenceSources } from './evidence-sources.ts';

/** The installation settings the report shows, from the parsed configuration. */
export const evidenceSettingsOf = (
  config: Config,
  database: Storage['dialect'],
  tls12Ciphers: readonly string[],
): EvidenceSettings => ({
  tls12Ciphers,
  tlsMode: config.tlsMode,
  tlsCertificateConfigured: config.tlsCert !== undefined,
  hstsMaxAgeSeconds: config.hstsMaxAgeSeconds,
  keyRotationDays: config.keyRotationDays,
  auditCheckpointIntervalSeconds: config.auditCheckpointIntervalSeconds,
  backupsScheduled: config.backups,
  database,
});

/** The report service as the server and the CLI build it: the same sources, the same signing key. */
export function evidenceReportServiceFor(deps: {
  config: Config;
  /** The TLS 1.2 suites the server offers (given by the edge: http/tls-options.ts). */
  tls12Ciphers: readonly string[];
  storage: Storage;
  signingKeys: SigningKeys;
  audit: AuditLog;
  clock: Clock;
  retentionRules: (tenantId: string) => Promise<RetentionRules>;
  supportReview?: EvidenceSources['supportReview'];
}): EvidenceReportService {
  const { storage, audit } = deps;
  return createEvidenceReportService({
    storage,
    clock: deps.clock,
    settings: evidenceSettingsOf(deps.config, storage.dialect, deps.tls12Ciphers),
    signingKeys: deps.signingKeys,
    audit,
    // A tenant's chain against the anchor file as well; the system and platform chains may still be empty.
    verifyChain: (chainId) =>
      NON_TENANT_CHAINS.includes(chainId)
        ? audit.verify(storage, chainId, { mustExist: false })
        : audit.verifyTenant(storage, chainId),
    retentionRules: deps.retentionRules,
    backupState: () => readBackupState(storage),
    supportReview: deps.supportReview,
  });
}
