/** What the edge knows about the request behind an act, for the audit entry that records it. */
export interface RequestContext {
  ip?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}
