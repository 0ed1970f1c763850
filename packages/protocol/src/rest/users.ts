import { z } from 'zod';

/**
 * A user's account status: `restricted` is processing restricted (GDPR Art. 18); `erased` is crypto-shredded
 * (name and e-mail unreadable for good, shown as null).
 */
export const userStatuses = ['active', 'deactivated', 'restricted', 'erased'] as const;
export type UserStatusName = (typeof userStatuses)[number];

/** A role name: built-in or custom. */
export const roleNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]{1,63}$/, 'must be lower-case letters, digits and _');

/** A user as `GET /v1/tenant/users` and `GET /v1/users` answer it; name and e-mail are null once erased. */
export const userSummary = z.object({
  id: z.string(),
  displayName: z.string().nullable(),
  email: z.string().nullable(),
  status: z.enum(userStatuses),
  /** Role names, sorted. */
  roles: z.array(z.string()),
  createdAt: z.string(),
});
export type UserSummaryBody = z.infer<typeof userSummary>;

/** The most users one page of `GET /v1/tenant/users` holds. */
export const MAX_USER_PAGE = 100;

/** `GET /v1/users`: the one user with exactly this address (through the blind index; no partial match). */
export const lookUpUserQuery = z.object({ email: z.email().max(320) }).strict();

/**
 * `GET /v1/tenant/users`: a page of the tenant's users, oldest first (creation time, then id), optionally
 * only those of one status or holding one role.
 */
export const listUsersQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(MAX_USER_PAGE).default(50),
    /** `nextCursor` of the previous page, with the same filters; opaque. */
    cursor: z.string().min(1).max(300).optional(),
    status: z.enum(userStatuses).optional(),
    role: roleNameSchema.optional(),
  })
  .strict();
export type ListUsersQuery = z.infer<typeof listUsersQuery>;

export const userPage = z.object({
  users: z.array(userSummary),
  /** Pass as `cursor` for the next page; absent on the last. */
  nextCursor: z.string().optional(),
});
export type UserPageBody = z.infer<typeof userPage>;
