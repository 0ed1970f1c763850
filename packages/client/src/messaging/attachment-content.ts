/** Bytes `start` to `end` of a file, both inclusive (as in `Content-Range`). */
export interface ServedRange {
  start: number;
  end: number;
}

/**
 * A downloaded attachment, its body not yet read: stream it from `body`, or read it whole with `bytes()` or
 * `blob()` (once, as with any `Response`). `range` is set when the server answered only part of the file
 * (206); a download asked with a range can still come back whole (an `ifRange` ETag that no longer matches).
 */
export class AttachmentContent {
  /** The underlying answer, for anything not surfaced here. */
  readonly response: Response;
  /** The served type (sniffed from the content when it was uploaded, never the uploader's claim). */
  readonly contentType: string;
  /** The file name as uploaded, from `Content-Disposition` (its exact UTF-8 form where given). */
  readonly name: string | undefined;
  /** Pass it back as `ifRange` so a later range comes from the same content. */
  readonly etag: string | undefined;
  /** The whole file's size in bytes. */
  readonly size: number | undefined;
  readonly range: ServedRange | undefined;

  constructor(response: Response) {
    this.response = response;
    const header = (name: string) => response.headers.get(name) ?? undefined;
    this.contentType = header('content-type') ?? 'application/octet-stream';
    this.name = fileNameOf(header('content-disposition'));
    this.etag = header('etag');
    const served = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header('content-range') ?? '');
    if (response.status === 206 && served) {
      this.range = { start: Number(served[1]), end: Number(served[2]) };
      this.size = Number(served[3]);
    } else {
      const length = header('content-length');
      this.range = undefined;
      this.size = length === undefined ? undefined : Number(length);
    }
  }

  /** The content as it arrives (an empty file has an empty stream). */
  get body(): ReadableStream<Uint8Array> {
    return this.response.body ?? new Blob([]).stream();
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.response.arrayBuffer());
  }

  blob(): Promise<Blob> {
    return this.response.blob();
  }
}

/** The name of `attachment; filename="fallback"; filename*=UTF-8''exact` (RFC 6266), the exact one first. */
function fileNameOf(disposition: string | undefined): string | undefined {
  if (disposition === undefined) return undefined;
  const exact = /filename\*=UTF-8''([^;]+)/i.exec(disposition)?.[1];
  if (exact !== undefined) {
    try {
      return decodeURIComponent(exact);
    } catch {
      // A malformed escape: fall back to the ASCII name.
    }
  }
  return /filename="([^"]*)"/i.exec(disposition)?.[1];
}
