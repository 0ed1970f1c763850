import { z } from 'zod';

/**
 * A file name as the uploader gave it: 1 to 255 characters, no control characters and no path separators
 * (it only ever names a download, never a place on disk).
 */
export const attachmentName = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .regex(/^[^\p{Cc}/\\]+$/u, 'must not contain control characters or path separators');

/**
 * `POST /v1/attachments?name=…`: the request body is the file's raw bytes, in any content type (the declared
 * type is kept but not trusted: the served type is sniffed from the bytes).
 */
export const uploadAttachmentQuery = z.object({ name: attachmentName }).strict();
export type UploadAttachmentQuery = z.infer<typeof uploadAttachmentQuery>;

/** The upload's body, for the API description: the raw bytes, streamed by the server, never parsed. */
export const uploadAttachmentBody = z
  .unknown()
  .meta({ type: 'string', format: 'binary', description: 'The file’s raw bytes, in any content type.' });

/** An uploaded attachment; share it by putting its id in a message's `attachments`. */
export const attachmentBody = z
  .object({
    id: z.string(),
    name: z.string(),
    /** Sniffed from the content, never the type the uploader declared. */
    contentType: z.string(),
    /** Plaintext bytes. */
    size: z.number(),
  })
  .meta({ id: 'Attachment' });
export type AttachmentBody = z.infer<typeof attachmentBody>;

/**
 * An attachment as a message shows it; the bytes are at `GET /v1/attachments/{id}`. Once it was removed
 * (`DELETE /v1/attachments/{id}`) the message keeps only `{ id, removed: true }`: its name, type, size and
 * content are gone for everyone.
 */
export const attachmentSummary = z
  .discriminatedUnion('removed', [
    z.object({
      id: z.string(),
      removed: z.literal(false),
      name: z.string(),
      contentType: z.string(),
      size: z.number(),
    }),
    z.object({ id: z.string(), removed: z.literal(true) }),
  ])
  .meta({ id: 'AttachmentSummary' });
export type AttachmentSummary = z.infer<typeof attachmentSummary>;
