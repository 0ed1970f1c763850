import type { IncidentRow, IncidentTenantRow } from './incident-store.ts';

/** The Art. 33(3) texts the security officer writes once for every affected tenant. */
export interface TenantNoticeTexts {
  likelyConsequences: string;
  measures: string;
  contact: string;
  delayReason?: string | undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The e-mail to a tenant's owners, laid out as GDPR Art. 33(3) asks of a notification to the supervisory
 * authority, so the tenant (the controller) can copy it into its own report: (a) nature, categories and
 * approximate numbers, (b) contact, (c) likely consequences, (d) measures. Numbers, never names.
 */
export function tenantNoticeMail(
  incident: IncidentRow,
  share: IncidentTenantRow,
  tenantName: string,
  texts: TenantNoticeTexts,
): { subject: string; text: string } {
  const categories = JSON.parse(incident.data_categories) as string[];
  const users = (JSON.parse(share.user_ids) as string[]).length;
  const kinds = JSON.parse(share.record_kinds) as string[];
  const lines = [
    `A security incident of the service you use for ${tenantName} concerns your data.`,
    `You are the controller: under GDPR Art. 33 you may have to notify your supervisory authority within 72 hours of becoming aware of it. Everything below is pre-filled for that report.`,
    '',
    `Incident reference: ${incident.id}`,
    `We became aware: ${iso(incident.aware_at)}`,
    `Severity: ${incident.severity}`,
    '',
    '(a) Nature of the breach',
    incident.title,
    incident.description,
    `Categories of personal data concerned: ${categories.length > 0 ? categories.join(', ') : 'under investigation'}`,
    `Approximate number of data subjects concerned (your users): ${users}`,
    `Kinds of record concerned: ${kinds.join(', ')} (${share.entries} recorded operations)`,
    '',
    '(b) Contact point for more information',
    texts.contact,
    '',
    '(c) Likely consequences',
    texts.likelyConsequences,
    '',
    '(d) Measures taken or proposed',
    texts.measures,
  ];
  if (texts.delayReason) lines.push('', 'Reason this notice comes later than our target', texts.delayReason);
  lines.push('', 'The list of affected user ids is in your admin API: GET /v1/incidents.');
  return {
    subject: `Security incident ${incident.id.slice(0, 8)}: information for your notification`,
    text: lines.join('\n'),
  };
}

/** The e-mail to an affected user: the officer's message, in the name of the tenant they use. */
export function userNoticeMail(incident: IncidentRow, tenantName: string): { subject: string; text: string } {
  return {
    subject: `Security notice about your ${tenantName} account`,
    text: [
      incident.user_message ?? '',
      '',
      `Reference: ${incident.id}`,
      `This notice is also shown in the app.`,
    ].join('\n'),
  };
}
