import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';

/**
 * TLS 1.2 suites with ephemeral ECDH key exchange (forward secrecy) and AEAD ciphers only. TLS 1.3 suites
 * are all both, so OpenSSL's defaults for 1.3 stand.
 */
export const tls12Ciphers = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export function tlsContextOptions({ certFile, keyFile }: TlsFiles): SecureContextOptions & {
  minVersion: 'TLSv1.2';
} {
  return {
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    minVersion: 'TLSv1.2',
    ciphers: tls12Ciphers,
    honorCipherOrder: true,
    ecdhCurve: 'X25519:prime256v1:secp384r1',
  };
}
