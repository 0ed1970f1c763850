export { ParleyClient, ParleyApiError, type ParleyClientOptions } from './rest-client.ts';
export {
  AuthClient,
  type AuthClientOptions,
  type MfaChallenge,
  type MfaProof,
  type SignedIn,
  type SignInRequest,
} from './auth-client.ts';
export { ParleyAuthError, type OAuthErrorCode } from './auth-error.ts';
export {
  AccountClient,
  MfaClient,
  type MfaDisableRequest,
  type MfaEnrollment,
  type Requester,
  type SessionInfo,
} from './account-client.ts';
export type { Tokens, TokenStore } from './token-store.ts';
export { MemoryTokenStore } from './memory-token-store.ts';
