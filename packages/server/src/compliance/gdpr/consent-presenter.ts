import type { ConsentPurpose, MyConsent, PurposeCoverage as CoverageView } from '@parley/protocol';
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
