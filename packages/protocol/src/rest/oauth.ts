import { z } from 'zod';

/**
 * The OAuth 2.0 endpoints' bodies: requests are forms (`application/x-www-form-urlencoded`, as RFC 6749, 7009
 * and 7662 say), answers are JSON, and errors follow RFC 6749 §5.2 (`{ error, error_description }`), not the
 * `{ error: { code, … } }` shape of the rest of the API.
 */

/** Our grant for the second step of a sign-in with MFA (API.md fixes the URI). */
export const MFA_GRANT = 'urn:parley:params:oauth:grant-type:mfa-otp';

const field = z.string().min(1).max(8192);
/** Space-separated scopes (`profile chat calls admin audit`); unset asks for the user's defaults. */
const scope = z.string().max(200).optional();

export const passwordGrant = z
  .object({
    grant_type: z.literal('password'),
    tenant_id: field,
    /** The e-mail address the user signs in with. */
    username: field,
    password: z.string().min(1).max(1_048_576),
    scope,
  })
  .meta({ id: 'PasswordGrant', description: 'Sign in with a password (RFC 6749 §4.3).' });

export const refreshTokenGrant = z
  .object({ grant_type: z.literal('refresh_token'), refresh_token: field, scope })
  .meta({
    id: 'RefreshTokenGrant',
    description:
      'Rotate a refresh token (RFC 6749 §6): the answer carries a new one, and presenting a used one revokes the session.',
  });

export const clientCredentialsGrant = z
  .object({
    grant_type: z.literal('client_credentials'),
    /** Or HTTP Basic authentication (preferred, RFC 6749 §2.3.1). */
    client_id: field.optional(),
    client_secret: field.optional(),
    scope,
  })
  .meta({
    id: 'ClientCredentialsGrant',
    description: 'A tenant’s server signs in as its registered client (RFC 6749 §4.4).',
  });

export const mfaGrant = z
  .object({
    grant_type: z.literal(MFA_GRANT),
    /** From the `mfa_required` answer to the password grant. */
    mfa_token: field,
    /** A current TOTP code; send this or `recovery_code`. */
    otp: z.string().max(32).optional(),
    /** A one-time recovery code; send this or `otp`. */
    recovery_code: z.string().max(64).optional(),
  })
  .meta({
    id: 'MfaGrant',
    description: 'The second step of a sign-in with MFA: the `mfa_token` and a TOTP code or a recovery code.',
  });

/** `POST /oauth/token`: one form per grant, told apart by `grant_type`. */
export const tokenRequest = z
  .discriminatedUnion('grant_type', [passwordGrant, refreshTokenGrant, clientCredentialsGrant, mfaGrant])
  .meta({ id: 'TokenRequest' });
export type TokenRequest = z.infer<typeof tokenRequest>;

/** Every `grant_type` the token endpoint knows; any other is `unsupported_grant_type`. */
export const grantTypes: readonly TokenRequest['grant_type'][] = tokenRequest.options.map(
  (option) => option.shape.grant_type.value,
);

/** RFC 6749 §5.1, and what a client must do next when `parley_notice` is set. */
export const tokenResponse = z
  .object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    /** Seconds. */
    expires_in: z.number().int(),
    /** Absent for client credentials. */
    refresh_token: z.string().optional(),
    /** The scopes granted, space-separated. */
    scope: z.string(),
    /**
     * Set when the token is narrowed until the user acts: it carries only the `profile` scope until they change
     * their password or enrol MFA, or grant the tenant's required consent purposes.
     */
    parley_notice: z
      .enum(['password_change_required', 'mfa_enrollment_required', 'consent_required'])
      .optional(),
  })
  .meta({ id: 'TokenResponse' });
export type TokenResponse = z.infer<typeof tokenResponse>;

/**
 * The error codes our OAuth endpoints answer: RFC 6749 §5.2's, RFC 6750's, and our extensions (the MFA step, and
 * `account_restricted` for an account whose processing is restricted).
 */
export const oauthErrorCodes = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_token',
  'insufficient_scope',
  'mfa_required',
  'mfa_code_reused',
  'account_restricted',
  'server_error',
  'temporarily_unavailable',
] as const;

/** RFC 6749 §5.2. */
export const oauthError = z
  .object({ error: z.enum(oauthErrorCodes), error_description: z.string() })
  .meta({ id: 'OAuthError' });
export type OAuthErrorBody = z.infer<typeof oauthError>;

/** A password grant for a user with MFA (403): present `mfa_token` with a code in the MFA grant. */
export const mfaRequired = z
  .object({
    error: z.literal('mfa_required'),
    error_description: z.string(),
    mfa_token: z.string(),
    /** Seconds the `mfa_token` stays valid. */
    expires_in: z.number().int(),
  })
  .meta({ id: 'MfaRequired' });

/** RFC 7009 §2.1 (`token_type_hint` is accepted and not needed: both kinds are looked up). */
export const revokeRequest = z
  .object({
    token: field,
    token_type_hint: z.enum(['access_token', 'refresh_token']).optional(),
  })
  .meta({ id: 'RevokeRequest' });

/** RFC 7662 §2.1. */
export const introspectRequest = z
  .object({
    token: field,
    token_type_hint: z.enum(['access_token', 'refresh_token']).optional(),
  })
  .meta({ id: 'IntrospectRequest' });

/** RFC 7662 §2.2; an unknown, expired or revoked token, or one of another tenant, is `{ active: false }`. */
export const introspectionResponse = z
  .object({
    active: z.boolean(),
    scope: z.string().optional(),
    client_id: z.string().optional(),
    /** The user; absent for a client's own token. */
    sub: z.string().optional(),
    token_type: z.literal('Bearer').optional(),
    /** Expiry, seconds since the epoch. */
    exp: z.number().int().optional(),
    parley_tenant_id: z.string().optional(),
    parley_session_id: z.string().optional(),
  })
  .meta({ id: 'IntrospectionResponse' });
