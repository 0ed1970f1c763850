import { describe, expect, it } from 'vitest';
import { ContentSniffer, isInlineType } from '../../src/attachments/content-sniffer.ts';

describe('content sniffing', () => {
  const sniff = async (...pieces: Buffer[]) => {
    const sniffer = new ContentSniffer();
    for (const piece of pieces) sniffer.update(piece);
    return sniffer.result();
  };

  it('calls UTF-8 text text/plain even when a character is split across pieces', async () => {
    const text = Buffer.from('Grüße – 日本語');
    expect(await sniff(text.subarray(0, 3), text.subarray(3, 9), text.subarray(9))).toBe('text/plain');
  });

  it('calls text with a NUL byte, invalid UTF-8 or a cut-off last character opaque bytes', async () => {
    expect(await sniff(Buffer.from('abc\0def'))).toBe('application/octet-stream');
    expect(await sniff(Buffer.from([0x61, 0xc3, 0x28]))).toBe('application/octet-stream');
    expect(await sniff(Buffer.from('Grüß').subarray(0, 3))).toBe('application/octet-stream');
  });

  it('recognises formats by magic bytes and shows only media inline, never SVG', async () => {
    expect(await sniff(Buffer.from('%PDF-1.7\n%âãÏÓ\n1 0 obj\n'))).toBe('application/pdf');
    expect(isInlineType('image/png')).toBe(true);
    expect(isInlineType('video/mp4')).toBe(true);
    expect(isInlineType('image/svg+xml')).toBe(false);
    expect(isInlineType('application/pdf')).toBe(false);
    expect(isInlineType('text/plain')).toBe(false);
  });
});
