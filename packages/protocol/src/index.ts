export * from './error-codes.ts';
export * from './scopes.ts';
export * from './permissions.ts';
export * from './rest/ops.ts';
export * from './rest/me.ts';
export * from './rest/dialogs.ts';
export * from './frames/realtime.ts';
export * from './close-codes.ts';
