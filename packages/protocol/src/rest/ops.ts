import { z } from 'zod';

export const healthBody = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), latencyMs: z.number().optional() })).optional(),
});
export type HealthBody = z.infer<typeof healthBody>;

/** What anyone may know: the product and API versions, never the runtime's (a scanner's shortcut to CVEs). */
export const versionBody = z.object({
  name: z.literal('parley'),
  version: z.string(),
  apiVersion: z.literal('v1'),
});
export type VersionBody = z.infer<typeof versionBody>;

/** What a tenant administrator may know besides: the Node.js version the server runs on. */
export const serverInfoBody = versionBody.extend({ node: z.string() });
export type ServerInfoBody = z.infer<typeof serverInfoBody>;

export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string() }),
});
