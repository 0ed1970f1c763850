import type { DataSubjectRequestBody, ParleyClient } from '@parley/client';
import type { DataSubjectRequestKind, DialogRetentionRules, DialogRetentionView } from '@parley/protocol';

/**
 * The data subject request and per-dialog retention calls the console makes beyond the SDK's compliance
 * client: recording a request received outside the API, extending its deadline, and a dialog's overrides.
 */
export function recordPrivacyRequest(
  client: ParleyClient,
  request: { subjectId: string; kind: DataSubjectRequestKind; receivedAt?: string; note?: string },
): Promise<DataSubjectRequestBody> {
  return client.request('POST', '/v1/privacy/requests', request);
}

/** Moves an open request's deadline to `until` (at most 90 days after receipt), with the reason. */
export function extendPrivacyRequest(
  client: ParleyClient,
  requestId: string,
  extension: { until: string; reason: string },
): Promise<DataSubjectRequestBody> {
  return client.request('POST', `/v1/privacy/requests/${encodeURIComponent(requestId)}/extension`, extension);
}

const dialogPath = (dialogId: string) => `/v1/retention/dialogs/${encodeURIComponent(dialogId)}`;

export function dialogRetention(client: ParleyClient, dialogId: string): Promise<DialogRetentionView> {
  return client.request('GET', dialogPath(dialogId));
}

/** Replaces the dialog's overrides; a kind left out follows the tenant's rule, null keeps without limit. */
export function setDialogRetention(
  client: ParleyClient,
  dialogId: string,
  rules: DialogRetentionRules,
): Promise<DialogRetentionView> {
  return client.request('PUT', dialogPath(dialogId), rules);
}

export function clearDialogRetention(client: ParleyClient, dialogId: string): Promise<DialogRetentionView> {
  return client.request('DELETE', dialogPath(dialogId));
}
