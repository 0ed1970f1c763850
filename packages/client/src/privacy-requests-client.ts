import type { OwnDataSubjectRequestBody, selfFiledRequestKinds } from '@parley/protocol';
import type { Requester } from './account-client.ts';

/** A data subject request as its subject sees it: kind, status, deadline (and any extension), outcome. */
export type PrivacyRequest = OwnDataSubjectRequestBody;

/** What a user may file themselves; export and erasure have their own calls. */
export interface FilePrivacyRequest {
  kind: (typeof selfFiledRequestKinds)[number];
  /** What the request is about, in the user's words (sealed on the server, shown to administrators). */
  note?: string;
}

/**
 * The signed-in user's GDPR requests: file one (access, rectification, restriction, objection) and follow
 * them — each is answered within 30 days of receipt, or by a later deadline the administrator gave a reason for.
 */
export class PrivacyRequestsClient {
  readonly #rest: Requester;

  constructor(rest: Requester) {
    this.#rest = rest;
  }

  /** The user's requests, newest first. */
  async list(): Promise<PrivacyRequest[]> {
    return (await this.#rest.request<{ requests: PrivacyRequest[] }>('GET', '/v1/me/privacy-requests'))
      .requests;
  }

  file(request: FilePrivacyRequest): Promise<PrivacyRequest> {
    return this.#rest.request<PrivacyRequest>('POST', '/v1/me/privacy-requests', request);
  }
}
