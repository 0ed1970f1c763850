import { createPublicKey, verify } from 'node:crypto';
import { type ComplianceReport, type SignedComplianceReport, signedComplianceReport } from '@parley/protocol';
import type { SigningKeys } from '../../crypto/signing-keys.ts';
import { canonicalJson } from '../audit/audit-entry.ts';

/** The bytes the signature covers: the report's canonical JSON (keys sorted, no spaces). */
export const reportBytes = (report: ComplianceReport): Buffer => Buffer.from(canonicalJson(report), 'utf8');

/** Signs with the audit signing key: the key that signs the audit checkpoints and erasure certificates. */
export function signReport(
  signingKeys: Pick<SigningKeys, 'sign'>,
  report: ComplianceReport,
  publicKey: string,
): SignedComplianceReport {
  const { keyId, signature } = signingKeys.sign(reportBytes(report));
  return { report, signature, keyId, publicKey, algorithm: 'Ed25519' };
}

/** Why a copy does not verify; `ok` when it does. */
export type ReportCheck =
  | { ok: true; keyId: string; trusted: boolean | 'unknown' }
  | { ok: false; reason: 'malformed' | 'signature_invalid' | 'key_not_trusted' };

/**
 * Checks a copy of a signed report: its shape, then the signature with the public key it carries (anyone can,
 * without the server). With `signingKeys`, the key must also be one of this server's trusted audit keys:
 * otherwise someone could re-sign an altered report with a key of their own and ship its public half along.
 */
export async function verifyReport(
  copy: unknown,
  signingKeys?: Pick<SigningKeys, 'verify'>,
): Promise<ReportCheck> {
  const parsed = signedComplianceReport.safeParse(copy);
  if (!parsed.success) return { ok: false, reason: 'malformed' };
  const signed = parsed.data;
  // The bytes are those of the copy as given, not as parsed: parsing drops unknown keys, and a key added to
  // the copy must break the signature, not vanish from the check while the copy still shows it.
  let bytes: Buffer;
  try {
    bytes = Buffer.from(canonicalJson((copy as { report: unknown }).report), 'utf8');
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  let valid: boolean;
  try {
    const publicKey = createPublicKey({
      key: Buffer.from(signed.publicKey, 'base64'),
      format: 'der',
      type: 'spki',
    });
    valid = verify(null, bytes, publicKey, Buffer.from(signed.signature, 'base64'));
  } catch {
    return { ok: false, reason: 'signature_invalid' };
  }
  if (!valid) return { ok: false, reason: 'signature_invalid' };
  if (!signingKeys) return { ok: true, keyId: signed.keyId, trusted: 'unknown' };
  const trusted = await signingKeys.verify(signed.keyId, bytes, signed.signature).catch(() => false);
  return trusted
    ? { ok: true, keyId: signed.keyId, trusted: true }
    : { ok: false, reason: 'key_not_trusted' };
}
