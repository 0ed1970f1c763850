import { type ClientFrame, clientFrame } from '@parley/protocol';

/** A frame's text as the client sent it, or null for a binary frame (never a valid frame). */
export function frameText(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): string | null {
  if (isBinary) return null;
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
}

/**
 * The frame as a JSON object, or undefined for anything else: binary, not JSON, or JSON that is not an
 * object (`null`, a number, a string, an array), all of which are `malformed_frame`.
 */
export function parseFrameObject(text: string | null): Record<string, unknown> | undefined {
  if (text === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}

/** The frame's `id` when it is a string: echoed in a refusal so the client knows which request it was. */
export function frameId(parsed: Record<string, unknown> | undefined): string | undefined {
  const id = parsed?.id;
  return typeof id === 'string' ? id : undefined;
}

/** A frame object checked against the protocol: the frame, or why it is `invalid_frame`. */
export type CheckedFrame = { valid: true; frame: ClientFrame } | { valid: false; message: string };

export function checkClientFrame(parsed: Record<string, unknown>): CheckedFrame {
  const result = clientFrame.safeParse(parsed);
  if (result.success) return { valid: true, frame: result.data };
  const issue = result.error.issues[0];
  return {
    valid: false,
    message: `Invalid frame: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
  };
}
