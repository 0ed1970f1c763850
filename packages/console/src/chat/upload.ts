import { ParleyApiError } from '@parley/client';
import type { AttachmentBody, ErrorBody } from '@parley/protocol';
import type { ChatModel } from './chat-model.ts';

/**
 * Uploads a file with progress. `fetch` reports no upload progress, so the bytes go with XMLHttpRequest to
 * the same route the SDK uses (`POST /v1/attachments?name=…`, the access token from the SDK's memory store
 * in the Authorization header). When the token has expired, the upload is made again through the SDK,
 * which refreshes the token first.
 */
export function uploadWithProgress(
  model: ChatModel,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<AttachmentBody> {
  return new Promise((resolve, reject) => {
    const token = model.accessToken();
    const request = new XMLHttpRequest();
    request.open('POST', `/v1/attachments?name=${encodeURIComponent(file.name)}`);
    if (token !== undefined) request.setRequestHeader('authorization', `Bearer ${token}`);
    request.setRequestHeader('accept', 'application/json');
    request.setRequestHeader('content-type', file.type || 'application/octet-stream');
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onerror = () => {
      reject(new TypeError('The server could not be reached.'));
    };
    request.onload = () => {
      const body = parse(request.responseText);
      if (request.status === 201 || request.status === 200) {
        onProgress(1);
        resolve(body as AttachmentBody);
        return;
      }
      const error = (body as Partial<ErrorBody> | undefined)?.error;
      if (request.status === 401)
        model.client.attachments.upload(file, { name: file.name }).then(resolve, reject);
      else
        reject(
          new ParleyApiError(
            request.status,
            error?.code ?? 'internal',
            error?.message ?? request.statusText,
            error?.requestId,
          ),
        );
    };
    request.send(file);
  });
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
