import type {
  ConsentLedgerEntry,
  ConsentPurpose,
  MyConsent,
  PurposeCoverage as CoverageView,
} from '@parley/protocol';
import type { LedgerRow } from './consent-grant-store.ts';
import type { PurposeCoverage } from './consent-purpose-service.ts';
import type { PurposeRow } from './consent-purpose-store.ts';
import type { UserConsent } from './consent-service.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/** A purpose version as the API shows it, field by field. */
export function presentPurpose(row: PurposeRow): ConsentPurpose {
  return {
    key: row.key,
    version: row.version,
    title: row.title,
    text: row.text,
    textHash: row.text_hash,
    lawfulBasis: row.lawful_basis,
    required: row.required === 1,
    active: row.active === 1,
    publishedAt: iso(row.created_at),
  };
}

export function presentMyConsent(consent: UserConsent): MyConsent {
  return {
    purpose: presentPurpose(consent.purpose),
    state: consent.state,
    version: consent.version,
    changedAt: consent.changedAt === null ? null : iso(consent.changedAt),
  };
}

export function presentLedgerEntry(row: LedgerRow): ConsentLedgerEntry {
  return {
    purposeKey: row.purpose_key,
    version: row.version,
    textHash: row.text_hash,
    action: row.action,
    source: row.source,
    at: iso(row.at),
  };
}

export function presentCoverage(coverage: PurposeCoverage): CoverageView {
  return {
    key: coverage.purpose.key,
    version: coverage.purpose.version,
    required: coverage.purpose.required === 1,
    active: coverage.purpose.active === 1,
    activeUsers: coverage.activeUsers,
    granted: coverage.granted,
    outdated: coverage.outdated,
    withdrawn: coverage.withdrawn,
    none: coverage.none,
  };
}
