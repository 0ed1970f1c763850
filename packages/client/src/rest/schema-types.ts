/**
 * Types of the protocol's zod schemas, read from the Standard Schema types every zod schema carries, so the
 * SDK needs neither a zod import nor zod's deprecated `_input`. Type-only: nothing of zod reaches a bundle.
 */
interface TypedSchema {
  '~standard': { types?: { input: unknown; output: unknown } | undefined };
}

/** What a schema accepts: fields with a default are optional (e.g. `memberIds` of `createDialogBody`). */
export type InputOf<S extends TypedSchema> = NonNullable<S['~standard']['types']>['input'];

/** What a schema answers once parsed: the body shape the server sends. */
export type OutputOf<S extends TypedSchema> = NonNullable<S['~standard']['types']>['output'];
