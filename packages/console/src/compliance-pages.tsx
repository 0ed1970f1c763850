import type { ConsolePage } from './console-page.ts';

/** Compliance pages (audit, privacy, retention, support access, incidents…), in navigation order. */
export const COMPLIANCE_PAGES: readonly ConsolePage[] = [];
