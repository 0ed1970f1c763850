import { z } from 'zod';
import { acceptedPurposes } from './consent.ts';
import { permissions } from '../permissions.ts';

/** A user's own profile as the API shows it. Personal fields are null after erasure. */
export const profileBody = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    status: z.enum(['active', 'deactivated', 'restricted', 'erased']),
    displayName: z.string().nullable(),
    email: z.string().nullable(),
    emailVerified: z.boolean(),
    phone: z.string().nullable(),
    avatarUrl: z.string().nullable(),
    customData: z.record(z.string(), z.unknown()).nullable(),
    roles: z.array(z.string()),
    /**
     * What the caller's roles allow (sorted), so an app shows only what the user may do (the server still
     * decides each request). Answered by `GET /v1/me`.
     */
    permissions: z.array(z.enum(permissions)).optional(),
    mfaEnabled: z.boolean(),
    createdAt: z.string(),
  })
  .meta({ id: 'Profile' });
export type ProfileBody = z.infer<typeof profileBody>;

const customData = z
  .record(z.string().max(64), z.unknown())
  .refine((value) => JSON.stringify(value).length <= 8192, 'must serialise to at most 8 KiB');

export const updateProfileBody = z
  .object({
    displayName: z.string().trim().min(1).max(200).optional(),
    phone: z
      .string()
      .regex(/^\+?[0-9 ().-]{5,32}$/, 'must be a phone number')
      .nullable()
      .optional(),
    avatarUrl: z
      .url({ protocol: /^https$/ })
      .max(2048)
      .nullable()
      .optional(),
    customData: customData.nullable().optional(),
  })
  .strict()
  .meta({ id: 'UpdateProfileRequest' });
export type UpdateProfileBody = z.infer<typeof updateProfileBody>;

export const sessionBody = z
  .object({
    id: z.string(),
    current: z.boolean(),
    clientId: z.string().nullable(),
    device: z.string().nullable(),
    scopes: z.array(z.string()),
    createdAt: z.string(),
    lastUsedAt: z.string(),
  })
  .meta({ id: 'Session' });
export const sessionListBody = z.object({ sessions: z.array(sessionBody) }).meta({ id: 'SessionList' });

export const signupBody = z
  .object({
    displayName: z.string().trim().min(1).max(200),
    email: z.email().max(320),
    password: z.string().min(1).max(4096),
    inviteToken: z.string().max(200).optional(),
    /** The purpose versions the user read and accepted: every current required one must be among them. */
    acceptedPurposes: acceptedPurposes.default([]),
  })
  .strict()
  .meta({ id: 'SignupRequest' });

export const ownerSetupBody = z
  .object({
    setupToken: z.string().min(1).max(200),
    displayName: z.string().trim().min(1).max(200),
    email: z.email().max(320),
    password: z.string().min(1).max(4096),
    /** As for sign-up: the owner accepts the tenant's required purposes like everyone else. */
    acceptedPurposes: acceptedPurposes.default([]),
  })
  .strict()
  .meta({ id: 'OwnerSetupRequest' });
