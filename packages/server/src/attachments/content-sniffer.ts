import { TextDecoder } from 'node:util';
import { fileTypeFromBuffer } from 'file-type';

/** How many leading bytes the sniffer looks at: what `file-type` needs for every format it knows. */
export const SNIFF_BYTES = 4100;

/** Served for anything not recognised; browsers offer it for download and never render it. */
export const OPAQUE_TYPE = 'application/octet-stream';

/**
 * Types a browser would run or render as a document (script, markup, styles): never served as themselves, so
 * an uploaded file can never execute in the API's origin. They are served as opaque bytes instead.
 */
const activeContent = /html|xml|svg|javascript|ecmascript|css|x-shockwave-flash/i;

/**
 * Works out what a file is from its bytes alone, never from what the uploader declared: magic bytes of the
 * first {@link SNIFF_BYTES} (through `file-type`), else `text/plain` when the whole content is valid UTF-8
 * without NUL bytes, else {@link OPAQUE_TYPE}. Fed piece by piece; keeps only the head, so memory is bounded.
 */
export class ContentSniffer {
  readonly #head = Buffer.alloc(SNIFF_BYTES);
  #headLength = 0;
  readonly #utf8 = new TextDecoder('utf-8', { fatal: true });
  #text = true;

  update(piece: Buffer): void {
    if (this.#headLength < SNIFF_BYTES) this.#headLength += piece.copy(this.#head, this.#headLength);
    if (!this.#text) return;
    if (piece.includes(0)) {
      this.#text = false;
      return;
    }
    try {
      this.#utf8.decode(piece, { stream: true });
    } catch {
      this.#text = false;
    }
  }

  /** The content type, once every byte went through {@link update}. */
  async result(): Promise<string> {
    const sniffed = await fileTypeFromBuffer(this.#head.subarray(0, this.#headLength));
    if (sniffed) return activeContent.test(sniffed.mime) ? OPAQUE_TYPE : sniffed.mime;
    if (this.#text && this.#endsCleanly()) return 'text/plain';
    return OPAQUE_TYPE;
  }

  /** False when the content ends inside a multi-byte UTF-8 sequence. */
  #endsCleanly(): boolean {
    try {
      this.#utf8.decode();
      return true;
    } catch {
      return false;
    }
  }
}

/** Whether a browser may show this type in place (media only); everything else is offered as a download. */
export function isInlineType(contentType: string): boolean {
  return /^(image|audio|video)\//.test(contentType) && !activeContent.test(contentType);
}

/** The Content-Type header for a stored type: text is always declared UTF-8, never left for a browser to guess. */
export function servedType(contentType: string): string {
  return contentType === 'text/plain' ? 'text/plain; charset=utf-8' : contentType;
}
