/** What a `Range` header asks of a representation of `size` bytes (RFC 9110 §14). */
export type RangeRequest =
  | { kind: 'full' }
  /** Bytes `start` to `end`, both inclusive. */
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const single = /^bytes=(\d*)-(\d*)$/;

/**
 * Parses a single byte range: `bytes=a-b`, `bytes=a-` or the suffix `bytes=-n`. Anything else — another unit,
 * a malformed header, or several ranges (multipart/byteranges is not offered) — is answered with the full
 * content, as RFC 9110 allows a server to ignore a Range header. A range past the end is unsatisfiable; an
 * end past the end is clamped.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'full' };
  const match = single.exec(header.trim());
  if (!match) return { kind: 'full' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (start >= size) return { kind: 'unsatisfiable' };
  if (end < start) return { kind: 'full' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}
