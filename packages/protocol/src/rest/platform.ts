import { z } from 'zod';

/**
 * Operator staff roles (docs/security.md, "Operator staff and support access"). Staff belong to no tenant:
 * `platform_admin` manages staff, `support` asks tenants for access, `security_officer` reviews it.
 */
export const staffRoles = ['platform_admin', 'support', 'security_officer'] as const;
export type StaffRole = (typeof staffRoles)[number];

/** `POST /v1/platform/enrolment`: the one-time token `parley staff create` printed, a password, a TOTP code. */
export const staffEnrolmentRequest = z
  .object({
    enrolmentToken: z.string().min(1).max(200),
    password: z.string().min(1).max(16_384),
    /** A current code of the authenticator the enrolment secret was added to: proves MFA works. */
    code: z.string().min(1).max(16),
  })
  .meta({ id: 'StaffEnrolmentRequest' });

/** `POST /v1/platform/sessions`: password and TOTP code, always both (MFA is mandatory for staff). */
export const staffSignInRequest = z
  .object({
    email: z.string().min(3).max(320),
    password: z.string().min(1).max(16_384),
    code: z.string().min(1).max(16),
  })
  .meta({ id: 'StaffSignInRequest' });

/** A staff session's opaque token (`parley_st_…`), valid only on `/v1/platform/…` routes. */
export const staffSession = z
  .object({
    accessToken: z.string(),
    tokenType: z.literal('Bearer'),
    expiresAt: z.string(),
  })
  .meta({ id: 'StaffSession' });

/** One staff account, as platform routes show it. */
export const staffAccount = z
  .object({
    id: z.string(),
    email: z.string(),
    role: z.enum(staffRoles),
    enrolled: z.boolean(),
    createdAt: z.string(),
  })
  .meta({ id: 'StaffAccount' });

/** `GET /v1/platform/me`: the calling staff member. */
export const staffSelf = z
  .object({ id: z.string(), role: z.enum(staffRoles), sessionId: z.string() })
  .meta({ id: 'StaffSelf' });

export const staffAccountList = z.object({ staff: z.array(staffAccount) }).meta({ id: 'StaffAccountList' });
