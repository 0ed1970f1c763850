/**
 * OAuth scopes a token may carry. A route declares the one scope it needs; a token without it is refused
 * with 403 even when the user's roles would allow the act.
 */
export const scopes = ['chat', 'calls', 'profile', 'admin', 'audit', 'compliance'] as const;
export type Scope = (typeof scopes)[number];
