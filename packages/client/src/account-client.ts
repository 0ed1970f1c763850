import type { ProfileBody, sessionBody, UpdateProfileBody } from '@parley/protocol';
import { ErasureClient } from './erasure-client.ts';
import { ExportsClient } from './exports-client.ts';
import { PrivacyRequestsClient } from './privacy-requests-client.ts';
import type { RawRequester } from './rest/raw-request.ts';
import type { TokenStore } from './token-store.ts';

/** A signed-in device as `GET /v1/me/sessions` lists it; `current` marks this client's own session. */
export type SessionInfo = ReturnType<(typeof sessionBody)['parse']>;

/** TOTP enrolment, step one: show `qrSvg` (or `otpauthUri`) to the authenticator app, then confirm a code. */
export interface MfaEnrollment {
  otpauthUri: string;
  qrSvg: string;
}

/** Turning MFA off needs the password and exactly one of a current TOTP code or a recovery code. */
export type MfaDisableRequest =
  { password: string; code: string } | { password: string; recoveryCode: string };

/** What the account client needs of the REST client: one authenticated JSON request. */
export interface Requester {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

/** The TOTP second factor of the signed-in user. */
export class MfaClient {
  readonly #rest: Requester;

  constructor(rest: Requester) {
    this.#rest = rest;
  }

  /** Starts enrolment (the password is asked again). MFA is on only after {@link MfaClient.confirm}. */
  begin(password: string): Promise<MfaEnrollment> {
    return this.#rest.request<MfaEnrollment>('POST', '/v1/me/mfa/totp', { password });
  }

  /** Confirms enrolment with a 6-digit code; answers ten single-use recovery codes, shown only this once. */
  async confirm(code: string): Promise<string[]> {
    const body = await this.#rest.request<{ recoveryCodes: string[] }>('POST', '/v1/me/mfa/totp/confirm', {
      code,
    });
    return body.recoveryCodes;
  }

  /** Turns MFA off; the user's other sessions end, this one stays. */
  async disable(request: MfaDisableRequest): Promise<void> {
    await this.#rest.request<undefined>('DELETE', '/v1/me/mfa/totp', request);
  }
}

/** The signed-in user's own account: profile, signed-in devices, password, MFA, privacy requests. */
export class AccountClient {
  readonly mfa: MfaClient;
  /** The user's GDPR requests (access, rectification, restriction, objection). */
  readonly privacyRequests: PrivacyRequestsClient;
  /** The erasure of the user's own account (GDPR Art. 17). */
  readonly erasure: ErasureClient;
  /** Exports of the user's data (GDPR Art. 15 and 20). */
  readonly exports: ExportsClient;
  readonly #rest: Requester;
  readonly #tokens: TokenStore;

  constructor(rest: Requester & RawRequester, tokens: TokenStore) {
    this.#rest = rest;
    this.#tokens = tokens;
    this.mfa = new MfaClient(rest);
    this.privacyRequests = new PrivacyRequestsClient(rest);
    this.erasure = new ErasureClient(rest);
    this.exports = new ExportsClient(rest);
  }

  me(): Promise<ProfileBody> {
    return this.#rest.request<ProfileBody>('GET', '/v1/me');
  }

  /** Changes only the fields given; `null` clears a nullable field. */
  updateMe(patch: UpdateProfileBody): Promise<ProfileBody> {
    return this.#rest.request<ProfileBody>('PATCH', '/v1/me', patch);
  }

  async sessions(): Promise<SessionInfo[]> {
    return (await this.#rest.request<{ sessions: SessionInfo[] }>('GET', '/v1/me/sessions')).sessions;
  }

  /** Signs one device out. Signing out this client's own session makes its next request fail to refresh. */
  async signOutSession(sessionId: string): Promise<void> {
    await this.#rest.request<undefined>('DELETE', `/v1/me/sessions/${encodeURIComponent(sessionId)}`);
  }

  /** Signs out every device, or every other one with `others: true`; this client forgets its own tokens too. */
  async signOutEverywhere(options: { others?: boolean } = {}): Promise<void> {
    const others = options.others === true;
    await this.#rest.request<undefined>('DELETE', others ? '/v1/me/sessions?others=true' : '/v1/me/sessions');
    if (!others) this.#tokens.clear();
  }

  /**
   * Asks to move the account to a new e-mail address (the password is asked again). A link goes to the new
   * address; the account keeps its current one until {@link AccountClient.confirmEmailChange} is called
   * with the link's token.
   */
  async requestEmailChange(email: string, password: string): Promise<void> {
    await this.#rest.request<undefined>('POST', '/v1/me/email', { email, password });
  }

  /** Confirms an e-mail change with the token from the link mailed to the new address (no sign-in needed). */
  async confirmEmailChange(token: string): Promise<void> {
    await this.#rest.request<undefined>('POST', '/v1/email/change/confirm', { token });
  }

  /** Changes the password; every other session ends, this one stays. */
  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    await this.#rest.request<undefined>('PUT', '/v1/me/password', { currentPassword, newPassword });
  }
}
