import type { ComplianceControl, EvidenceValue } from '@parley/protocol';
import { dataInventory, type PersonalDataCategory } from '../gdpr/data-inventory.ts';
import { NON_TENANT_CHAINS } from '../audit/audit-entry.ts';
import { clocksOf } from '../incidents/incident-clocks.ts';
import { evidenceStore } from './evidence-store.ts';
import type { EvidenceSources } from './evidence-sources.ts';
import { ageDays, controlOf, DAY_MS, isoOrNull, Verdict } from './evidence-verdict.ts';

/** Categories that must never be stored as is (identifiers, metadata and behaviour may, by design). */
const SENSITIVE: readonly PersonalDataCategory[] = ['content', 'contact', 'profile', 'credential'];
const BACKUP_STALE_MS = 2 * DAY_MS;
const VERIFY_STALE_MS = 31 * DAY_MS;

export function tlsControl({ settings }: EvidenceSources): ComplianceControl {
  const verdict = new Verdict();
  if (settings.tlsMode === 'behind-proxy')
    verdict.attention('TLS is terminated by a proxy in front of the server: its policy is not visible here.');
  else if (!settings.tlsCertificateConfigured)
    verdict.attention('The server uses a generated self-signed certificate (PARLEY_TLS_CERT is not set).');
  if (settings.hstsMaxAgeSeconds === 0) verdict.attention('HSTS is off (PARLEY_HSTS_MAX_AGE=0).');
  return controlOf('tls', verdict, {
    mode: settings.tlsMode,
    minimumVersion: 'TLSv1.2',
    tls12Ciphers: [...settings.tls12Ciphers],
    tls13Ciphers: 'OpenSSL defaults (all ECDHE with AEAD)',
    certificate: settings.tlsCertificateConfigured ? 'configured (PARLEY_TLS_CERT)' : 'self-signed',
    hstsMaxAgeSeconds: settings.hstsMaxAgeSeconds,
  });
}

/** From the data inventory: how each personal column is protected at rest. */
export function encryptionAtRestControl(sources: EvidenceSources): ComplianceControl {
  const verdict = new Verdict();
  const byProtection: Record<string, number> = {};
  const exposed: string[] = [];
  let personal = 0;
  for (const [table, declaration] of Object.entries(dataInventory)) {
    if (declaration.dialect !== undefined && declaration.dialect !== sources.settings.database) continue;
    for (const [column, entry] of Object.entries(declaration.columns)) {
      if (!entry.personal) continue;
      if (entry.dialect !== undefined && entry.dialect !== sources.settings.database) continue;
      personal += 1;
      byProtection[entry.protection] = (byProtection[entry.protection] ?? 0) + 1;
      const categories: readonly PersonalDataCategory[] =
        typeof entry.category === 'string' ? [entry.category] : entry.category;
      if (entry.protection === 'none' && categories.some((category) => SENSITIVE.includes(category)))
        exposed.push(`${table}.${column}`);
    }
  }
  if (exposed.length > 0)
    verdict.attention(`${exposed.length} personal column(s) of a sensitive category are stored as is.`);
  return controlOf('encryption_at_rest', verdict, {
    personalColumns: personal,
    byProtection,
    sensitiveColumnsStoredAsIs: exposed,
    cipher: 'AES-256-GCM, associated data binding tenant, table, column and row',
  });
}

/** The tenant's keys in use, read in the tenant's transaction before the report reads system tables. */
export interface TenantKeyFacts {
  keys: readonly { purpose: string; version: number; created_at: number }[];
  rotationPending: boolean;
}

/**
 * Key ages: the master and signing keys, and the tenant's own keys when a tenant is given. Each key is named
 * in words (`key`) and in fields a console can lay out (`kind`, `purpose`, `version`, `rotationDueAt`).
 */
export async function keyManagementControl(
  sources: EvidenceSources,
  tenant: TenantKeyFacts | undefined,
): Promise<ComplianceControl> {
  const { storage, clock, settings } = sources;
  const now = clock.now();
  const verdict = new Verdict();
  const { master, signing } = await storage.withSystem(async (tx) => ({
    master: await evidenceStore.masterKey(tx),
    signing: await evidenceStore.signingKeys(tx),
  }));
  const keys: Record<string, EvidenceValue>[] = [];
  const note = (name: string, createdAt: number, fields: Record<string, EvidenceValue>) => {
    const days = ageDays(createdAt, now);
    const overdue = days > settings.keyRotationDays;
    keys.push({
      key: name,
      ...fields,
      createdAt: isoOrNull(createdAt),
      ageDays: days,
      rotationDueAt: isoOrNull(createdAt + settings.keyRotationDays * DAY_MS),
      rotationOverdue: overdue,
    });
    if (overdue) verdict.attention(`The ${name} is ${days} days old, past the rotation period.`);
  };
  if (master)
    note(`master key (version ${master.version})`, master.created_at, {
      kind: 'master',
      version: master.version,
    });
  for (const key of signing)
    note(`audit signing key ${key.id}`, key.created_at, { kind: 'signing', keyId: key.id });
  if (tenant) {
    const newest = new Map<string, { version: number; created_at: number }>();
    for (const key of tenant.keys)
      if ((newest.get(key.purpose)?.version ?? -1) < key.version) newest.set(key.purpose, key);
    for (const [purpose, key] of newest)
      note(`tenant ${purpose} key (version ${key.version})`, key.created_at, {
        kind: 'tenant',
        purpose,
        version: key.version,
      });
    if (tenant.rotationPending) verdict.attention('A data-key rotation still has user keys to re-wrap.');
  }
  return controlOf('key_management', verdict, {
    rotationPeriodDays: settings.keyRotationDays,
    keys,
    // Only in a tenant's report: whether its data-key rotation still re-wraps user keys in the background.
    ...(tenant ? { tenantRotationPending: tenant.rotationPending } : {}),
  });
}

/**
 * Verifies the chain now (the tenant's, or the system and platform chains installation-wide) and reads its
 * newest checkpoint: what "last verified" means in this report is this very verification.
 */
export async function auditLogControl(
  sources: EvidenceSources,
  tenantId: string | undefined,
): Promise<ComplianceControl> {
  const { storage, clock, settings } = sources;
  const verdict = new Verdict();
  const chains: Record<string, EvidenceValue>[] = [];
  for (const chainId of tenantId === undefined ? NON_TENANT_CHAINS : [tenantId]) {
    const verifiedAt = clock.now();
    const result = await sources.verifyChain(chainId);
    const read = async (tx: Parameters<typeof evidenceStore.chainState>[0]) => {
      const state = await evidenceStore.chainState(tx, chainId);
      const oldest = await evidenceStore.oldestAfter(tx, chainId, state.checkpoint?.seq ?? 0);
      const recorded = await evidenceStore.lastRecordedVerification(tx, chainId);
      return { ...state, oldestUnsigned: oldest, recorded };
    };
    const state =
      tenantId === undefined ? await storage.withSystem(read) : await storage.withTenant(chainId, read);
    const unsignedMs = state.oldestUnsigned === undefined ? 0 : verifiedAt - state.oldestUnsigned;
    if (!result.ok)
      verdict.notMet(
        `The audit chain ${chainId} does not verify: ${result.firstBad.reason} at entry ${result.firstBad.seq}.`,
      );
    const recorded = state.recorded
      ? { at: state.recorded.occurred_at, ...(JSON.parse(state.recorded.details) as { intact?: boolean }) }
      : undefined;
    if (recorded?.intact === false)
      verdict.notMet(
        `The last recorded verification of the audit chain ${chainId} (${isoOrNull(recorded.at)}) found it broken.`,
      );
    if (result.ok && unsignedMs > 3 * settings.auditCheckpointIntervalSeconds * 1000)
      verdict.attention(
        `The audit chain ${chainId} has entries unsigned for over three checkpoint intervals.`,
      );
    chains.push({
      chain: chainId,
      verifiedAt: isoOrNull(verifiedAt),
      result: result.ok ? 'intact' : 'broken',
      entriesVerified: result.entries,
      ...(result.ok
        ? { checkpointsVerified: result.checkpoints }
        : { firstBad: { seq: result.firstBad.seq, reason: result.firstBad.reason } }),
      headSeq: state.head?.seq ?? 0,
      lastCheckpointSeq: state.checkpoint?.seq ?? null,
      lastCheckpointSignedAt: isoOrNull(state.checkpoint?.signed_at),
      oldestUnsignedEntryAt: isoOrNull(state.oldestUnsigned),
      lastRecordedVerification: recorded
        ? { at: isoOrNull(recorded.at), result: recorded.intact === false ? 'broken' : 'intact' }
        : null,
    });
  }
  return controlOf('audit_log', verdict, {
    checkpointIntervalSeconds: settings.auditCheckpointIntervalSeconds,
    chains,
  });
}

export async function backupsControl(sources: EvidenceSources): Promise<ComplianceControl> {
  const now = sources.clock.now();
  const verdict = new Verdict();
  const state = await sources.backupState();
  if (!state || state.lastSuccessAt === null) verdict.notMet('No backup has succeeded yet.');
  else if (now - state.lastSuccessAt > BACKUP_STALE_MS)
    verdict.attention('The last successful backup is older than two days.');
  if (state?.lastOutcome === 'failed')
    verdict.attention(`The last backup attempt failed (${state.lastErrorCode ?? 'unknown'}).`);
  if (state?.lastVerifyOk === false) verdict.notMet('The last backup verification (trial restore) failed.');
  else if (!state || state.lastVerifyAt === null)
    verdict.attention('No restore drill recorded (run `parley backup verify`).');
  else if (now - state.lastVerifyAt > VERIFY_STALE_MS)
    verdict.attention('The last restore drill (`parley backup verify`) is older than 31 days.');
  if (!sources.settings.backupsScheduled)
    verdict.attention('Scheduled backups are off (PARLEY_BACKUPS=false).');
  return controlOf('backups', verdict, {
    engine: sources.settings.database === 'sqlite' ? 'built-in encrypted backups' : 'pgBackRest',
    scheduled: sources.settings.backupsScheduled,
    lastAttemptAt: isoOrNull(state?.lastAttemptAt),
    lastOutcome: state?.lastOutcome ?? null,
    lastErrorCode: state?.lastErrorCode ?? null,
    lastSuccessAt: isoOrNull(state?.lastSuccessAt),
    lastSuccessBytes: state?.lastSuccessBytes ?? null,
    lastVerifyAt: isoOrNull(state?.lastVerifyAt),
    lastVerifyResult:
      state?.lastVerifyOk === undefined || state.lastVerifyOk === null
        ? null
        : state.lastVerifyOk
          ? 'passed'
          : 'failed',
    restoreDrill:
      'Each `parley backup verify` restores the backup on trial into a scratch directory and verifies its audit chains; the last one is the last restore drill.',
  });
}

export async function riskReviewsControl(sources: EvidenceSources): Promise<ComplianceControl> {
  const now = sources.clock.now();
  const verdict = new Verdict();
  const risks = await sources.storage.withSystem((tx) => evidenceStore.risks(tx));
  const live = risks.filter((risk) => risk.status !== 'closed');
  const overdue = live.filter((risk) => risk.next_review_at < now);
  if (risks.length === 0) verdict.attention('The risk register is empty.');
  if (overdue.length > 0) verdict.notMet(`${overdue.length} risk(s) are past their review date.`);
  const byStatus: Record<string, number> = {};
  for (const risk of risks) byStatus[risk.status] = (byStatus[risk.status] ?? 0) + 1;
  const reviewed = risks.map((risk) => risk.last_reviewed_at).filter((at): at is number => at !== null);
  return controlOf('risk_reviews', verdict, {
    risks: risks.length,
    byStatus,
    overdueReviews: overdue.map((risk) => ({ riskId: risk.id, dueAt: isoOrNull(risk.next_review_at) })),
    lastReviewAt: isoOrNull(reviewed.length === 0 ? null : Math.max(...reviewed)),
  });
}

/** The incidents that concern the tenant (every incident when `ids` is `all`) and their clocks. */
export async function incidentsControl(
  sources: EvidenceSources,
  ids: readonly string[] | 'all',
): Promise<ComplianceControl> {
  const now = sources.clock.now();
  const verdict = new Verdict();
  const incidents = await sources.storage.withSystem((tx) => evidenceStore.incidents(tx, ids));
  const shown: Record<string, EvidenceValue>[] = [];
  for (const incident of incidents) {
    const open = incident.status === 'investigating' || incident.status === 'contained';
    const clocks = clocksOf(incident, now);
    for (const clock of clocks) {
      if (clock.metAt === null && clock.overdue)
        verdict.notMet(`Incident ${incident.id}: the ${clock.clock} clock ran out unmet.`);
      else if (clock.overdue && clock.delayReason === null)
        verdict.notMet(`Incident ${incident.id}: the ${clock.clock} clock was met late without a reason.`);
    }
    if (open) verdict.attention(`Incident ${incident.id} is open (${incident.status}).`);
    shown.push({
      incidentId: incident.id,
      severity: incident.severity,
      status: incident.status,
      awareAt: isoOrNull(incident.aware_at),
      clocks: clocks.map((clock) => ({
        clock: clock.clock,
        deadline: isoOrNull(clock.deadline),
        metAt: isoOrNull(clock.metAt),
        overdue: clock.overdue,
        delayReasonRecorded: clock.delayReason !== null,
      })),
    });
  }
  return controlOf('incidents', verdict, { incidents: shown.length, list: shown });
}
