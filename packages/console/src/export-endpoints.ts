import type { DataExport, ParleyClient } from '@parley/client';

/**
 * Where one person's data exports are asked for, followed and downloaded. The SDK's `client.account.exports`
 * is one (the signed-in user's own); {@link userExportEndpoints} is another (an administrator's, on a user's
 * behalf). A download answers the archive's response, fetched with the bearer token in a header.
 */
export interface ExportEndpoints {
  /** Newest first. */
  list(): Promise<DataExport[]>;
  get(exportId: string): Promise<DataExport>;
  request(): Promise<DataExport>;
  download(exportId: string): Promise<Response>;
}

/**
 * An administrator's exports of `userId` (`privacy.export`): asked for with `POST /v1/users/{id}/exports`,
 * followed and downloaded under `/v1/exports/{id}`. Only whoever asked can download an archive, so the list
 * holds the exports the signed-in administrator asked for, not those of the user or of another administrator.
 */
export function userExportEndpoints(client: ParleyClient, userId: string): ExportEndpoints {
  const ofUser = `/v1/users/${encodeURIComponent(userId)}/exports`;
  const one = (exportId: string) => `/v1/exports/${encodeURIComponent(exportId)}`;
  return {
    async list() {
      const [me, { exports }] = await Promise.all([
        client.account.me(),
        client.request<{ exports: DataExport[] }>('GET', ofUser),
      ]);
      return exports.filter((entry) => entry.requestedBy === me.id);
    },
    get: (exportId) => client.request<DataExport>('GET', one(exportId)),
    request: () => client.request<DataExport>('POST', ofUser),
    download: (exportId) => client.requestRaw('GET', `${one(exportId)}/archive`),
  };
}
