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

/** A user as `GET /v1/users` answers it; name and e-mail are null once the user is erased. */
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

/** The most users one page of `GET /v1/users` holds. */
export const MAX_USER_PAGE = 100;

/**
 * `GET /v1/users`: with `email`, the one user with exactly that address (through the blind index; no partial
 * match) and nothing else may be given; without it, a page of the tenant's users, oldest first (creation
 * time, then id), optionally only those of one status or holding one role.
 */
export const listUsersQuery = z
  .object({
    email: z.email().max(320).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_USER_PAGE).default(50),
    /** `nextCursor` of the previous page, with the same filters; opaque. */
    cursor: z.string().min(1).max(300).optional(),
    status: z.enum(userStatuses).optional(),
    role: roleNameSchema.optional(),
  })
  .strict()
  .refine(
    (query) =>
      query.email === undefined ||
      (query.cursor === undefined && query.status === undefined && query.role === undefined),
    { message: 'email is an exact look-up: it takes no cursor, status or role.' },
  );
export type ListUsersQuery = z.infer<typeof listUsersQuery>;

export const userPage = z.object({
  users: z.array(userSummary),
  /** Pass as `cursor` for the next page; absent on the last. */
  nextCursor: z.string().optional(),
});
export type UserPageBody = z.infer<typeof userPage>;
