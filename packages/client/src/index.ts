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
export {
  PrivacyRequestsClient,
  type FilePrivacyRequest,
  type PrivacyRequest,
} from './privacy-requests-client.ts';
export { ErasureClient, type Erasure } from './erasure-client.ts';
export { ExportsClient, type DataExport } from './exports-client.ts';
export {
  DialogsClient,
  type CreateDialogRequest,
  type DialogPage,
  type DialogRemoval,
  type MemberRole,
} from './messaging/dialogs-client.ts';
export {
  MessagesClient,
  type DeletionScope,
  type MessageChange,
  type Receipt,
  type SendMessageRequest,
} from './messaging/messages-client.ts';
export type { HistoryPage, HistoryQuery } from './messaging/history-pages.ts';
export { SearchClient, type SearchQuery } from './messaging/search-client.ts';
export {
  AttachmentsClient,
  type ByteRange,
  type DownloadOptions,
  type UploadOptions,
} from './messaging/attachments-client.ts';
export { AttachmentContent, type ServedRange } from './messaging/attachment-content.ts';
export { PresenceClient, type PresenceView, type PresenceVisibility } from './messaging/presence-client.ts';
export { BlocksClient, type BlockedUser } from './messaging/blocks-client.ts';
export { CallRecordsClient, type CallRecordPage } from './calls/call-records-client.ts';
export {
  ConsentClient,
  type AcceptedPurpose,
  type ConsentPurpose,
  type MyConsent,
  type SignUpRequest,
} from './consent-client.ts';
export type { PageOptions } from './rest/cursor-pages.ts';
export type { RawBody, RawRequester, RawRequestInit } from './rest/raw-request.ts';
export type { Tokens, TokenStore } from './token-store.ts';
export { MemoryTokenStore } from './memory-token-store.ts';
export { RealtimeClient, type RealtimeClientOptions, type SendOptions } from './realtime/realtime-client.ts';
export type { ConnectionEvent, ConnectionState, RealtimeEvents } from './realtime/realtime-events.ts';
export type { AccessTokenSource } from './realtime/access-token-source.ts';
export { RealtimeError, type RealtimeClientErrorCode } from './realtime/realtime-error.ts';
export { CallsClient, type CallsClientOptions, type CallsTransport } from './calls/calls-client.ts';
export { Call, type CallPhase } from './calls/call.ts';
export type { CallEndReason, CallEvents, CallsEvents, RemoteDevice } from './calls/call-events.ts';
export type {
  AckFrame,
  AnswerOf,
  CallRequestFrame,
  NotifyFrame,
  RequestAnswer,
  RequestFrame,
  RequestInput,
  SequencedFrame,
  ServerFrameOf,
  ServerFrameType,
} from './realtime/realtime-frames.ts';
export type { PositionStore } from './realtime/position-store.ts';
export { MemoryPositionStore } from './realtime/memory-position-store.ts';
export type { WebSocketConstructor, WebSocketLike } from './realtime/websocket-port.ts';
export type { BackoffOptions } from './realtime/reconnect-backoff.ts';
export type { HeartbeatOptions } from './realtime/heartbeat.ts';
export {
  ComplianceClient,
  type AuditEntry,
  type AuditFilter,
  type AuditVerification,
  type ComplianceControl,
  type DataSubjectRequestBody,
  type LegalHoldView,
  type PlaceLegalHoldRequest,
  type PurposeCoverage,
  type RetentionRulesBody,
  type SignedComplianceReport,
  type SupportScope,
  type UpdateDataSubjectRequestBody,
  type SupportGrant,
  type SupportGrantAccess,
  type SupportGrantApproval,
  type TenantIncident,
} from './compliance-client.ts';
