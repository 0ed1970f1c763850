import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import { ensurePrivateDir, writeSecretFile } from './data-dir.ts';

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
  generated: boolean;
}

/**
 * The embedded default's certificate: an ECDSA P-256 pair valid for localhost, the loopback addresses and
 * this host's name, made once in `<data dir>/tls/` (key 0600). Real deployments set PARLEY_TLS_CERT/KEY.
 */
export async function ensureSelfSignedCertificate(dataDir: string): Promise<CertificateFiles> {
  const dir = path.join(dataDir, 'tls');
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile, generated: false };
  ensurePrivateDir(dir);
  const now = new Date();
  const hostname = os.hostname();
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 397 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          ...(hostname && hostname !== 'localhost' ? [{ type: 2 as const, value: hostname }] : []),
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  writeSecretFile(keyFile, pems.private);
  writeSecretFile(certFile, pems.cert);
  return { certFile, keyFile, generated: true };
}

export function certificateFingerprint(certFile: string): string {
  return new X509Certificate(readFileSync(certFile)).fingerprint256;
}
