import { createPublicKey, verify } from 'node:crypto';
import {
  type ErasureCertificate,
  erasureCertificate,
  type ErasureCounts,
  type SignedErasureCertificate,
} from '@parley/protocol';
import type { SigningKeys } from '../../crypto/signing-keys.ts';
import { canonicalJson } from '../audit/audit-entry.ts';
import type { ErasureRow } from './erasure-store.ts';

/** What an erasure keeps on purpose (docs/privacy.md, "Erasure"), stated in every certificate. */
export const erasureRemains: readonly string[] = [
  'The account id, a random identifier, as a tombstone with status erased and no personal field.',
  'Audit entries naming the account id (tamper-evident chain; their IP and user agent are sealed).',
  'The consent ledger: which purpose versions the account accepted or withdrew, and when (proof under Art. 7(1)).',
  'Data subject request records and this erasure record: ids, times and counts, no personal data.',
  'Ids in other people’s records: mentions, dialog membership, call records, reactions (under a random id).',
  'Under the keep_as_deleted_user policy: the text of the account’s messages, shown under the erased account.',
];

export const zeroCounts = (): ErasureCounts => ({
  profileFields: 0,
  userKeys: 0,
  sessions: 0,
  tokens: 0,
  messagesErased: 0,
  messagesKept: 0,
  searchEntries: 0,
  attachments: 0,
  reactions: 0,
  memberships: 0,
  hiddenMessages: 0,
  blocks: 0,
  consentStates: 0,
  exports: 0,
  mail: 0,
  callDevices: 0,
});

const iso = (at: number) => new Date(at).toISOString();

/** The certificate of a finished erasure, from its row and what it counted. */
export function certificateOf(
  row: ErasureRow,
  counts: ErasureCounts,
  completedAt: number,
): ErasureCertificate {
  return {
    format: 'parley-erasure-certificate/1',
    erasureId: row.id,
    requestId: row.request_id,
    tenantId: row.tenant_id,
    subjectId: row.user_id,
    source: row.source,
    messagePolicy: row.message_policy,
    requestedAt: iso(row.requested_at),
    startedAt: iso(row.started_at ?? completedAt),
    completedAt: iso(completedAt),
    erased: counts,
    remains: [...erasureRemains],
  };
}

/** The bytes the signature covers: the certificate's canonical JSON (keys sorted, no spaces). */
export const certificateBytes = (certificate: ErasureCertificate): Buffer =>
  Buffer.from(canonicalJson(certificate), 'utf8');

/** Signs with the audit signing key: the same key that signs the audit chain's checkpoints. */
export function signCertificate(
  signingKeys: Pick<SigningKeys, 'sign'>,
  certificate: ErasureCertificate,
): { signature: string; keyId: string } {
  return signingKeys.sign(certificateBytes(certificate));
}

/**
 * Verifies a signed certificate with the public key it carries (anyone can, without the server); whether
 * that key is this server's audit key is for the caller to check (`SigningKeys.verify`, or the key id).
 */
export function verifyCertificate(signed: SignedErasureCertificate): boolean {
  const parsed = erasureCertificate.safeParse(signed.certificate);
  if (!parsed.success) return false;
  const publicKey = createPublicKey({
    key: Buffer.from(signed.publicKey, 'base64'),
    format: 'der',
    type: 'spki',
  });
  return verify(null, certificateBytes(parsed.data), publicKey, Buffer.from(signed.signature, 'base64'));
}
