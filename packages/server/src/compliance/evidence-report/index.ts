/**
 * The compliance evidence report (issue 17 point 5; docs/compliance.md, "Evidence report"): every promise
 * mapped to HIPAA and GDPR, its status computed from live state, signed, as JSON or printable HTML.
 */
export { controlDefinitions } from './evidence-controls.ts';
export { createEvidenceReportService, type EvidenceReportService } from './evidence-report.ts';
export { evidenceReportRoutes } from './evidence-routes.ts';
export { type ReportCheck, verifyReport } from './evidence-signature.ts';
export { renderReportHtml, signedJsonInHtml } from './evidence-html.ts';
export type { EvidenceSettings, EvidenceSources } from './evidence-sources.ts';
export { evidenceReportServiceFor } from './evidence-wiring.ts';
export { evidenceControlsMarkdown } from './evidence-controls-markdown.ts';
