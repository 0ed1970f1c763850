import { AuditPage } from './audit-page.tsx';
import { ComplianceReportPage } from './compliance-report-page.tsx';
import { ConsentsPage } from './consents-page.tsx';
import type { ConsolePage } from './console-page.ts';
import { IncidentsPage } from './incidents-page.tsx';
import { KeysAndBackupsPage } from './keys-and-backups-page.tsx';
import { LegalHoldsPage } from './legal-holds-page.tsx';
import { PrivacyRequestsPage } from './privacy-requests-page.tsx';
import { RetentionPage } from './retention-page.tsx';
import { SupportAccessPage } from './support-access-page.tsx';
import './compliance.css';

/**
 * Compliance pages (audit, privacy, retention, support access, incidents…), in navigation order. Key and
 * backup status come from the evidence report, so they need its permission.
 */
export const COMPLIANCE_PAGES: readonly ConsolePage[] = [
  {
    path: '/console/audit',
    title: 'Audit log',
    permission: 'audit.read',
    render: (props) => <AuditPage {...props} />,
  },
  {
    path: '/console/consents',
    title: 'Consents',
    permission: 'consent.manage',
    render: (props) => <ConsentsPage {...props} />,
  },
  {
    path: '/console/privacy-requests',
    title: 'Data requests',
    permission: 'privacy.requests.manage',
    render: (props) => <PrivacyRequestsPage {...props} />,
  },
  {
    path: '/console/retention',
    title: 'Retention',
    permission: 'retention.manage',
    render: (props) => <RetentionPage {...props} />,
  },
  {
    path: '/console/legal-holds',
    title: 'Legal holds',
    permission: 'legal_holds.manage',
    render: (props) => <LegalHoldsPage {...props} />,
  },
  {
    path: '/console/support-access',
    title: 'Support access',
    permission: 'support_access.manage',
    render: (props) => <SupportAccessPage {...props} />,
  },
  {
    path: '/console/incidents',
    title: 'Incidents',
    permission: 'audit.read',
    render: (props) => <IncidentsPage {...props} />,
  },
  {
    path: '/console/compliance-report',
    title: 'Evidence report',
    permission: 'compliance.report',
    render: (props) => <ComplianceReportPage {...props} />,
  },
  {
    path: '/console/keys-and-backups',
    title: 'Keys and backups',
    permission: 'compliance.report',
    render: (props) => <KeysAndBackupsPage {...props} />,
  },
];
