import { z } from 'zod';
import { errorCodes } from '../error-codes.ts';

export const healthBody = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    /** Per dependency (`database`, `redis`, `keyFile`): up or not; a failed one says only how (no error text). */
    checks: z
      .record(
        z.string(),
        z.object({
          ok: z.boolean(),
          latencyMs: z.number().optional(),
          reason: z.enum(['failed', 'timeout']).optional(),
        }),
      )
      .optional(),
  })
  .meta({ id: 'Health' });
export type HealthBody = z.infer<typeof healthBody>;

/** What anyone may know: the product and API versions, never the runtime's (a scanner's shortcut to CVEs). */
export const versionBody = z
  .object({
    name: z.literal('parley'),
    version: z.string(),
    apiVersion: z.literal('v1'),
  })
  .meta({ id: 'Version' });
export type VersionBody = z.infer<typeof versionBody>;

/** What a tenant administrator may know besides: the Node.js version the server runs on. */
export const serverInfoBody = versionBody.extend({ node: z.string() }).meta({ id: 'ServerInfo' });
export type ServerInfoBody = z.infer<typeof serverInfoBody>;

/**
 * The uniform error body of every endpoint but `/oauth/*`: `code` is one of the catalogue's (docs/errors.md),
 * `message` is safe to show, `requestId` names the request in the server's logs.
 */
export const errorBodySchema = z
  .object({
    error: z.object({ code: z.enum(errorCodes), message: z.string(), requestId: z.string() }),
  })
  .meta({ id: 'Error' });
