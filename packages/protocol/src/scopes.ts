/**
 * OAuth scopes a token may carry. A route declares the one scope it needs; a token without it is refused
 * with 403 even when the user's roles would allow the act. Scopes narrow what a token can do; roles decide
 * what the user can do; a request needs both.
 */
export const scopes = ['profile', 'chat', 'calls', 'admin', 'audit'] as const;
export type Scope = (typeof scopes)[number];
