import { createHmac, hkdfSync } from 'node:crypto';
import type { ExportOthersMessagesPolicy } from '@parley/protocol';

/** How an archive names a person: the subject by their id, anyone else by id or pseudonym (policy). */
export type NamePerson = (userId: string) => string;

const PSEUDONYM_INFO = Buffer.from('parley export pseudonyms v1', 'latin1');

/**
 * Names people in one archive. Under `full` everyone keeps their id; otherwise every person but the subject
 * is `anon_` + 16 hex digits of HMAC-SHA-256 under a key derived from the archive's own key: the same
 * person is the same pseudonym throughout the archive (and in a resumed build of it), so conversations stay
 * readable, but pseudonyms match across no two archives, and nobody without the archive key can tell
 * whose they are.
 */
export function createPersonNamer(
  archiveKey: Buffer,
  subjectId: string,
  policy: ExportOthersMessagesPolicy,
): NamePerson {
  if (policy === 'full') return (userId) => userId;
  const key = Buffer.from(hkdfSync('sha256', archiveKey, Buffer.alloc(0), PSEUDONYM_INFO, 32));
  return (userId) =>
    userId === subjectId
      ? userId
      : `anon_${createHmac('sha256', key).update(userId).digest('hex').slice(0, 16)}`;
}
