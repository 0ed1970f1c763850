import type { MyConsent } from '@parley/client';

/** The required, active purposes whose current version the user has not granted (what blocks them). */
export function owedPurposes(consents: readonly MyConsent[]): MyConsent[] {
  return consents.filter(
    (entry) => entry.purpose.required && entry.purpose.active && entry.state !== 'granted',
  );
}
