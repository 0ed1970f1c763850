import { type Kysely, type Migration, type MigrationResult, Migrator } from 'kysely';
import type { DialectAdapter } from './dialects/dialect-adapter.ts';
import { foundationMigration } from './migrations/0001-foundation.ts';
import { securityCoreMigration } from './migrations/0002-security-core.ts';
import { identityMigration } from './migrations/0003-identity.ts';
import { messagingMigration } from './migrations/0004-messaging.ts';
import { epochMigration } from './migrations/0005-epoch.ts';
import { messageEventsMigration } from './migrations/0006-message-events.ts';
import { searchMigration } from './migrations/0007-search.ts';
import { attachmentsMigration } from './migrations/0008-attachments.ts';
import { callsMigration } from './migrations/0011-calls.ts';
import { callPolicyMigration } from './migrations/0012-call-policy.ts';
import { historyCostMigration } from './migrations/0013-history-cost.ts';
import { searchMergeMigration } from './migrations/0014-search-merge.ts';
import { jobsMigration } from './migrations/0016-jobs.ts';
import { consentMigration } from './migrations/0017-consent.ts';
import { dataSubjectRequestsMigration } from './migrations/0018-data-subject-requests.ts';
import { exportsMigration } from './migrations/0019-exports.ts';
import { erasureMigration } from './migrations/0020-erasure.ts';
import { systemContextMigration } from './migrations/0021-system-context.ts';
import { retentionMigration } from './migrations/0022-retention.ts';
import { auditRetentionMigration } from './migrations/0023-audit-retention.ts';
import { tenantClosureMigration } from './migrations/0024-tenant-closure.ts';
import { alertsMigration } from './migrations/0025-alerts.ts';
import { searchTermsLeanMigration } from './migrations/0026-search-terms-lean.ts';
import { dialogPrunedSeqMigration } from './migrations/0027-dialog-pruned-seq.ts';
import { platformStaffMigration } from './migrations/0029-platform-staff.ts';
import { incidentsAndRisksMigration } from './migrations/0030-incidents-and-risks.ts';
import { supportReviewsMigration } from './migrations/0031-support-reviews.ts';
import { accessLogMigration } from './migrations/0033-access-log.ts';
import { legalDisclosurePackagesMigration } from './migrations/0034-legal-disclosure-packages.ts';
import { sealedPersonalFieldsMigration } from './migrations/0035-sealed-personal-fields.ts';
import { userDirectoryOrderMigration } from './migrations/0036-user-directory-order.ts';
import { searchCrisisMergeMigration } from './migrations/0037-search-crisis-merge.ts';
import { searchTermsBinaryMigration } from './migrations/0038-search-terms-binary.ts';
import type { Storage } from './database.ts';

/**
 * A migration sees the dialect adapter so the few dialect-specific statements (row-level security) sit
 * beside the portable DDL they belong to.
 */
export type MigrationFactory = (adapter: DialectAdapter) => Migration;

/** Ordered by name; never edit a released migration, add the next one. */
const migrationFactories: Record<string, MigrationFactory> = {
  '0001-foundation': foundationMigration,
  '0002-security-core': securityCoreMigration,
  '0003-identity': identityMigration,
  '0004-messaging': messagingMigration,
  '0005-epoch': epochMigration,
  '0006-message-events': messageEventsMigration,
  '0007-search': searchMigration,
  '0008-attachments': attachmentsMigration,
  '0011-calls': callsMigration,
  '0012-call-policy': callPolicyMigration,
  '0013-history-cost': historyCostMigration,
  '0014-search-merge': searchMergeMigration,
  '0016-jobs': jobsMigration,
  '0017-consent': consentMigration,
  '0018-data-subject-requests': dataSubjectRequestsMigration,
  '0019-exports': exportsMigration,
  '0020-erasure': erasureMigration,
  '0021-system-context': systemContextMigration,
  '0022-retention': retentionMigration,
  '0023-audit-retention': auditRetentionMigration,
  '0024-tenant-closure': tenantClosureMigration,
  '0025-alerts': alertsMigration,
  '0026-search-terms-lean': searchTermsLeanMigration,
  '0027-dialog-pruned-seq': dialogPrunedSeqMigration,
  '0029-platform-staff': platformStaffMigration,
  '0030-incidents-and-risks': incidentsAndRisksMigration,
  '0031-support-reviews': supportReviewsMigration,
  '0033-access-log': accessLogMigration,
  '0034-legal-disclosure-packages': legalDisclosurePackagesMigration,
  '0035-sealed-personal-fields': sealedPersonalFieldsMigration,
  '0036-user-directory-order': userDirectoryOrderMigration,
  '0037-search-crisis-merge': searchCrisisMergeMigration,
  '0038-search-terms-binary': searchTermsBinaryMigration,
};

/** Every migration, in the order they run. */
export const migrationNames = Object.keys(migrationFactories);

export async function migrateToLatest(storage: Storage): Promise<MigrationResult[]> {
  const db = storage.kysely as Kysely<unknown>;
  await storage.adapter.prepareSchema(db);
  const migrations = Object.fromEntries(
    Object.entries(migrationFactories).map(([name, factory]) => [name, factory(storage.adapter)]),
  );
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
    // Named explicitly: Kysely otherwise finds a migration table of the same name in any schema and
    // skips creating its own (several deployments, or test runs, can share one database).
    ...(storage.adapter.schema === undefined ? {} : { migrationTableSchema: storage.adapter.schema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined)
    throw error instanceof Error ? error : new Error('migration failed', { cause: error });
  await storage.adapter.finishMigrations(db);
  return results ?? [];
}
