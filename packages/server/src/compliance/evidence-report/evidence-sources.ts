import type { Clock } from '../../clock.ts';
import type { Storage } from '../../storage/database.ts';
import type { AuditVerification } from '../audit/audit-verifier.ts';
import type { RetentionRules } from '../retention/retention-rules.ts';

/** What the installation is configured to do, as far as the report shows it (config.ts). */
export interface EvidenceSettings {
  tlsMode: 'tls' | 'behind-proxy';
  /** A certificate file is configured (else a self-signed pair is generated). */
  tlsCertificateConfigured: boolean;
  hstsMaxAgeSeconds: number;
  /** The TLS 1.2 suites the server offers (http/tls-options.ts). */
  tls12Ciphers: readonly string[];
  keyRotationDays: number;
  auditCheckpointIntervalSeconds: number;
  backupsScheduled: boolean;
  /** The embedded database or PostgreSQL (pgBackRest). */
  database: 'sqlite' | 'postgres';
}

/** The last backup attempt, success and verification (backup/backup-state.ts). */
export interface BackupEvidence {
  lastAttemptAt: number;
  lastOutcome: 'succeeded' | 'failed';
  lastErrorCode: string | null;
  lastSuccessAt: number | null;
  /** Stored bytes of the last successful backup, when the tool reported them. */
  lastSuccessBytes: number | null;
  lastVerifyAt: number | null;
  lastVerifyOk: boolean | null;
}

/** Where the periodic review of support access stands (compliance/support-access/, issue 17 point 3). */
export interface SupportReviewEvidence {
  periodDays: number;
  overdue: boolean;
  /** The end of the newest signed review's window (ISO), null before the first. */
  coveredUntil: string | null;
  lastSignedAt: number | null;
}

/**
 * Everything the report reads, given by the composition root (the server's app.ts, or the CLI): the report
 * reaches other domains through these functions, not through their stores.
 */
export interface EvidenceSources {
  storage: Storage;
  clock: Clock;
  settings: EvidenceSettings;
  /** Verifies one audit chain now (against the anchor file when there is one). */
  verifyChain: (chainId: string) => Promise<AuditVerification>;
  retentionRules: (tenantId: string) => Promise<RetentionRules>;
  backupState: () => Promise<BackupEvidence | undefined>;
  /** Absent where periodic reviews are not wired: the control then says no review is recorded. */
  supportReview?: ((now: number) => Promise<SupportReviewEvidence>) | undefined;
}
