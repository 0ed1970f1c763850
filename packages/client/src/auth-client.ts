import { ParleyAuthError } from './auth-error.ts';
import { type OAuthAnswer, postForm, tokensFrom } from './oauth-form.ts';
import type { Tokens, TokenStore } from './token-store.ts';

/** The MFA step's grant type, fixed by API.md. */
const MFA_OTP_GRANT = 'urn:parley:params:oauth:grant-type:mfa-otp';

/** What a password sign-in needs. `scope` is space-separated; the server's default when absent. */
export interface SignInRequest {
  tenantId: string;
  username: string;
  password: string;
  scope?: string;
}

/** A completed sign-in: the tokens are already in the store. */
export interface SignedIn {
  mfaRequired: false;
  tokens: Tokens;
  /** Set when the session is limited until the user acts (e.g. `password_change_required`). */
  notice?: string;
}

/** The password was right and a second factor is due: pass `mfaToken` to {@link AuthClient.completeMfa}. */
export interface MfaChallenge {
  mfaRequired: true;
  /** Single-use, short-lived; it is not a session and grants nothing on its own. */
  mfaToken: string;
  /** Seconds the MFA token stays valid. */
  expiresIn: number;
}

/** The second factor: a code from the authenticator app, or one of the single-use recovery codes. */
export type MfaProof = { mfaToken: string; otp: string } | { mfaToken: string; recoveryCode: string };

export interface AuthClientOptions {
  baseUrl: string;
  fetch: typeof fetch;
  tokens: TokenStore;
}

/**
 * Sign-in, refresh and sign-out against the OAuth 2.0 endpoints (RFC 6749, form-encoded; RFC 7009 revoke).
 * Tokens go to and come from the {@link TokenStore}; they only ever travel in form bodies and the
 * `Authorization` header, never in URLs.
 */
export class AuthClient {
  readonly #baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly #store: TokenStore;
  /** The refresh under way, shared by every caller: a rotated refresh token can be spent only once. */
  #inflight: Promise<Tokens> | undefined;

  constructor(options: AuthClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#fetch = options.fetch;
    this.#store = options.tokens;
  }

  /** Password grant. Saves the tokens, or answers the MFA challenge (and saves nothing). */
  async signIn(request: SignInRequest): Promise<SignedIn | MfaChallenge> {
    const answer = await this.#post('/oauth/token', {
      grant_type: 'password',
      tenant_id: request.tenantId,
      username: request.username,
      password: request.password,
      ...(request.scope === undefined ? {} : { scope: request.scope }),
    });
    const { error, mfa_token: mfaToken, expires_in: expiresIn } = answer.body;
    if (answer.status === 403 && error === 'mfa_required' && typeof mfaToken === 'string') {
      return { mfaRequired: true, mfaToken, expiresIn: typeof expiresIn === 'number' ? expiresIn : 0 };
    }
    return this.#signedIn(answer);
  }

  /** The MFA step: trades the MFA token and a TOTP or recovery code for tokens, and saves them. */
  async completeMfa(proof: MfaProof): Promise<SignedIn> {
    return this.#signedIn(
      await this.#post('/oauth/token', {
        grant_type: MFA_OTP_GRANT,
        mfa_token: proof.mfaToken,
        ...('otp' in proof ? { otp: proof.otp } : { recovery_code: proof.recoveryCode }),
      }),
    );
  }

  /**
   * Trades the stored refresh token for new tokens and saves them (the refresh token rotates). Concurrent
   * callers share one request. A refused refresh token (reused, revoked, expired) clears the store and
   * throws {@link ParleyAuthError} with the RFC 6749 code, usually `invalid_grant`: sign in again.
   */
  refresh(): Promise<Tokens> {
    this.#inflight ??= this.#rotate().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /**
   * For the REST client after a 401 `invalid_token`: answers fresh tokens, refreshing only if no other caller
   * already replaced the rejected access token (so N failed requests cost one refresh, not N).
   */
  renewAfterRejection(rejectedAccessToken: string): Promise<Tokens> {
    if (this.#inflight) return this.#inflight;
    const current = this.#store.load();
    if (current && current.accessToken !== rejectedAccessToken) return Promise.resolve(current);
    return this.refresh();
  }

  /**
   * Revokes the session on the server (RFC 7009, with the refresh token, which ends the whole session) and
   * clears the store. The store is cleared even when the revocation fails; the error is then rethrown.
   */
  async signOut(): Promise<void> {
    // A refresh in flight would rotate the token we are about to revoke: revoke what it leaves behind.
    await this.#inflight?.catch(() => undefined);
    const tokens = this.#store.load();
    if (!tokens) return;
    try {
      const answer = await this.#post('/oauth/revoke', {
        token: tokens.refreshToken ?? tokens.accessToken,
        token_type_hint: tokens.refreshToken === undefined ? 'access_token' : 'refresh_token',
      });
      if (answer.status !== 200) throw ParleyAuthError.from(answer);
    } finally {
      this.#store.clear();
    }
  }

  async #rotate(): Promise<Tokens> {
    const refreshToken = this.#store.load()?.refreshToken;
    if (refreshToken === undefined)
      throw new ParleyAuthError('invalid_grant', 'No refresh token is stored: sign in again.', undefined);
    const answer = await this.#post('/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
    const stillOurs = () => this.#store.load()?.refreshToken === refreshToken;
    if (answer.status !== 200) {
      // 400/401: refused for good, and replaying it later would only look like theft. 429/5xx: try later.
      if ((answer.status === 400 || answer.status === 401) && stillOurs()) this.#store.clear();
      throw ParleyAuthError.from(answer);
    }
    const tokens = tokensFrom(answer, refreshToken);
    if (stillOurs()) {
      this.#store.save(tokens);
      return tokens;
    }
    // Someone signed in again while this refresh was in flight: their session wins.
    const current = this.#store.load();
    if (!current) throw new ParleyAuthError('invalid_grant', 'Signed out during the refresh.', undefined);
    return current;
  }

  #signedIn(answer: OAuthAnswer): SignedIn {
    const tokens = tokensFrom(answer);
    this.#store.save(tokens);
    const notice = answer.body.parley_notice;
    return { mfaRequired: false, tokens, ...(typeof notice === 'string' ? { notice } : {}) };
  }

  #post(path: string, fields: Record<string, string>): Promise<OAuthAnswer> {
    return postForm(this.#fetch, `${this.#baseUrl}${path}`, fields);
  }
}
