import type { DataExportBody } from '@parley/protocol';
import type { Requester } from './account-client.ts';
import type { RawRequester } from './rest/raw-request.ts';

/** An export of the user's data and where it stands (`queued`, `running`, `ready`, `failed`, `destroyed`). */
export type DataExport = DataExportBody;

/**
 * The signed-in user's data exports (GDPR Art. 15 and 20): ask for one, follow it while it is built, download
 * the archive (a .tar.gz of JSON files and the user's uploads) until it expires, or destroy it earlier.
 */
export class ExportsClient {
  readonly #rest: Requester & RawRequester;

  constructor(rest: Requester & RawRequester) {
    this.#rest = rest;
  }

  /** Asks for an export; it is built in the background (`export_in_progress` while another one is). */
  request(): Promise<DataExport> {
    return this.#rest.request<DataExport>('POST', '/v1/me/exports');
  }

  /** The exports the user asked for, newest first. */
  async list(): Promise<DataExport[]> {
    return (await this.#rest.request<{ exports: DataExport[] }>('GET', '/v1/me/exports')).exports;
  }

  get(exportId: string): Promise<DataExport> {
    return this.#rest.request<DataExport>('GET', `/v1/me/exports/${encodeURIComponent(exportId)}`);
  }

  /**
   * The archive once `ready`: the response, unread (`response.body` streams it; `arrayBuffer()` holds it).
   * `export_not_ready`, `export_expired` and the like come as a `ParleyApiError`.
   */
  download(exportId: string, options: { signal?: AbortSignal } = {}): Promise<Response> {
    return this.#rest.requestRaw('GET', `/v1/me/exports/${encodeURIComponent(exportId)}/archive`, options);
  }

  /** Destroys the archive now, or stops building it. */
  async remove(exportId: string): Promise<void> {
    await this.#rest.request('DELETE', `/v1/me/exports/${encodeURIComponent(exportId)}`);
  }
}
