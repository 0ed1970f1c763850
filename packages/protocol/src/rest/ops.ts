import { z } from 'zod';

export const healthBody = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), latencyMs: z.number().optional() })).optional(),
});
export type HealthBody = z.infer<typeof healthBody>;

export const versionBody = z.object({
  name: z.literal('parley'),
  version: z.string(),
  node: z.string(),
  apiVersion: z.literal('v1'),
});
export type VersionBody = z.infer<typeof versionBody>;

export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string() }),
});
