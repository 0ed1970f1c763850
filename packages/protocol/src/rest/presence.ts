import { z } from 'zod';

/** A user's presence as `GET /v1/users/{id}/presence` shows it (`lastActiveAt` is ISO 8601 or null). */
export const presenceBody = z
  .object({
    userId: z.string(),
    status: z.enum(['online', 'offline']),
    lastActiveAt: z.string().nullable(),
  })
  .meta({ id: 'Presence' });
export type PresenceView = z.infer<typeof presenceBody>;

/** Who sees the caller's presence: everyone in the tenant, contacts (a shared dialog), or nobody. */
export const presenceVisibility = z.enum(['everyone', 'contacts', 'nobody']);
export type PresenceVisibility = z.infer<typeof presenceVisibility>;

/** `GET /v1/me/blocks`: the users the caller blocked, and since when (ISO 8601). */
export const blockedUser = z
  .object({ userId: z.string(), blockedAt: z.string() })
  .meta({ id: 'BlockedUser' });
export type BlockedUser = z.infer<typeof blockedUser>;
export const blocksBody = z.object({ blocks: z.array(blockedUser) }).meta({ id: 'Blocks' });
