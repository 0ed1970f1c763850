import type { AttachmentBody } from '@parley/protocol';
import type { Requester } from '../account-client.ts';
import { isStreamBody, type RawBody, type RawRequester } from '../rest/raw-request.ts';
import { path, withQuery } from '../rest/rest-path.ts';
import { AttachmentContent } from './attachment-content.ts';

export interface UploadOptions {
  /** The file name (1–255 characters, no control characters or slashes); a `File`'s own name when absent. */
  name?: string;
  /** The declared type (kept, not trusted: the served type is sniffed); the Blob's type, else octet-stream. */
  contentType?: string;
  signal?: AbortSignal;
}

/** Part of a file: bytes `start` to `end` inclusive (to the end when absent), or the `last` n bytes. */
export type ByteRange = { start: number; end?: number } | { last: number };

export interface DownloadOptions {
  range?: ByteRange;
  /** An `etag` from an earlier download: the range is served only if the content is still that one. */
  ifRange?: string;
  signal?: AbortSignal;
}

/**
 * Attachments over REST: upload the raw bytes, download them (whole or a byte range), remove them. A message
 * shares an upload by listing its id in `attachments`.
 */
export class AttachmentsClient {
  readonly #rest: Requester & RawRequester;

  constructor(rest: Requester & RawRequester) {
    this.#rest = rest;
  }

  /**
   * Uploads a file from memory (`Uint8Array`), a `Blob`/`File`, or a `ReadableStream` (streamed without
   * buffering; in browsers streaming uploads need HTTP/2, so prefer a Blob there). Over the tenant's size
   * limit the server answers `attachment_too_large` and keeps nothing.
   */
  async upload(content: RawBody, options: UploadOptions = {}): Promise<AttachmentBody> {
    const name = options.name ?? fileNameOf(content);
    if (name === undefined) throw new TypeError('An upload needs a name (options.name).');
    const blobType = content instanceof Blob ? content.type : '';
    const response = await this.#rest.requestRaw('POST', withQuery('/v1/attachments', { name }), {
      headers: {
        accept: 'application/json',
        'content-type': options.contentType ?? (blobType || 'application/octet-stream'),
      },
      body: content,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return (await response.json()) as AttachmentBody;
  }

  /** Downloads an attachment the caller uploaded or sees in a message; `range_not_satisfiable` past its end. */
  async download(attachmentId: string, options: DownloadOptions = {}): Promise<AttachmentContent> {
    const headers: Record<string, string> = {};
    if (options.range !== undefined) headers.range = rangeHeader(options.range);
    if (options.ifRange !== undefined) headers['if-range'] = options.ifRange;
    const response = await this.#rest.requestRaw('GET', path`/v1/attachments/${attachmentId}`, {
      headers,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return new AttachmentContent(response);
  }

  /**
   * Removes an attachment the caller uploaded, for everyone: later downloads are `not_found` and messages
   * show it as `{ id, removed: true }`.
   */
  async remove(attachmentId: string): Promise<void> {
    await this.#rest.request<undefined>('DELETE', path`/v1/attachments/${attachmentId}`);
  }
}

function rangeHeader(range: ByteRange): string {
  if ('last' in range) return `bytes=-${range.last}`;
  return `bytes=${range.start}-${range.end ?? ''}`;
}

/** A `File`'s name (browsers, and Node 20's global `File`). */
function fileNameOf(content: RawBody): string | undefined {
  if (isStreamBody(content) || !(content instanceof Blob) || !('name' in content)) return undefined;
  return typeof content.name === 'string' && content.name !== '' ? content.name : undefined;
}
