import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/start-server.ts';

interface Handshake {
  protocol: string | null;
  cipher: string;
}

function handshake(port: number, options: tls.ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
      const result = { protocol: socket.getProtocol(), cipher: socket.getCipher().name };
      socket.end();
      resolve(result);
    });
    socket.once('error', reject);
  });
}

/**
 * Attack: a downgrade to an old protocol or to a cipher suite without forward secrecy, so that a later key
 * compromise (or a weak protocol) exposes recorded traffic. Both must be refused at the handshake.
 */
describe('TLS policy', () => {
  let server: TestServer;
  let rsaServer: TestServer;
  let rsaCert: string;
  let rsaDir: string;

  beforeAll(async () => {
    server = await startTestServer();
    // An RSA certificate makes the non-forward-secret RSA key exchange technically possible, so its
    // refusal can only come from Parley's cipher policy.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-rsa-'));
    rsaDir = dir;
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'rsa',
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }],
    });
    rsaCert = pems.cert;
    writeFileSync(path.join(dir, 'cert.pem'), pems.cert);
    writeFileSync(path.join(dir, 'key.pem'), pems.private, { mode: 0o600 });
    rsaServer = await startTestServer({
      env: { PARLEY_TLS_CERT: path.join(dir, 'cert.pem'), PARLEY_TLS_KEY: path.join(dir, 'key.pem') },
    });
  });

  afterAll(async () => {
    await server.close();
    await rsaServer.close();
  });

  const portOf = (s: TestServer) => Number(new URL(s.url).port);

  it('accepts TLS 1.3', async () => {
    const result = await handshake(portOf(server), { ca: server.ca, minVersion: 'TLSv1.3' });
    expect(result.protocol).toBe('TLSv1.3');
  });

  it('accepts TLS 1.2 with an ECDHE + AEAD suite', async () => {
    const result = await handshake(portOf(server), { ca: server.ca, maxVersion: 'TLSv1.2' });
    expect(result.protocol).toBe('TLSv1.2');
    expect(result.cipher).toMatch(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
  });

  it('refuses TLS 1.1', async () => {
    await expect(
      handshake(portOf(server), {
        ca: server.ca,
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      }),
    ).rejects.toThrow(/protocol version|unsupported protocol|no protocols available/i);
  });

  it('refuses a TLS 1.2 suite without forward secrecy (RSA key exchange)', async () => {
    const options = {
      ca: rsaCert,
      maxVersion: 'TLSv1.2' as const,
      ciphers: 'AES128-GCM-SHA256:AES256-GCM-SHA384',
    };
    await expect(handshake(portOf(rsaServer), options)).rejects.toThrow(
      /handshake failure|no shared cipher/i,
    );
    // The same client can talk to the same certificate with an ECDHE suite: only the suite was refused.
    const ok = await handshake(portOf(rsaServer), { ca: rsaCert, maxVersion: 'TLSv1.2' });
    expect(ok.cipher).toMatch(/^ECDHE-RSA-/);
  });

  it('refuses a CBC (non-AEAD) suite even with ECDHE', async () => {
    await expect(
      handshake(portOf(rsaServer), { ca: rsaCert, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' }),
    ).rejects.toThrow(/handshake failure|no shared cipher/i);
  });

  it('reloads the certificate (SIGHUP) and keeps the old one when the new files are broken', async () => {
    const peerCertificate = (ca: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = tls.connect(
          { host: '127.0.0.1', port: portOf(rsaServer), servername: 'localhost', ca },
          () => {
            resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
            socket.end();
          },
        );
        socket.once('error', reject);
      });
    const before = await peerCertificate(rsaCert);
    const renewed = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }],
    });
    writeFileSync(path.join(rsaDir, 'cert.pem'), renewed.cert);
    writeFileSync(path.join(rsaDir, 'key.pem'), renewed.private);
    rsaServer.app.reloadTls();
    const after = await peerCertificate(renewed.cert);
    expect(after).not.toBe(before);
    writeFileSync(path.join(rsaDir, 'key.pem'), 'not a key');
    rsaServer.app.reloadTls();
    expect(await peerCertificate(renewed.cert)).toBe(after);
    rsaCert = renewed.cert;
  });

  it('sends HSTS on every response', async () => {
    const response = await server.request('/livez');
    expect(response.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });
});

describe('plain HTTP behind a TLS-terminating proxy', () => {
  it('serves plain HTTP only when PARLEY_TLS_MODE=behind-proxy', async () => {
    const server = await startTestServer({ env: { PARLEY_TLS_MODE: 'behind-proxy' } });
    try {
      expect(server.url).toMatch(/^http:\/\//);
      expect(server.ca).toBeUndefined();
      expect((await server.request('/livez')).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('serves TLS by default, so a plain HTTP request gets no API answer', async () => {
    const server = await startTestServer();
    try {
      const plain = server.url.replace('https://', 'http://');
      const response = await fetch(`${plain}/livez`).then(
        (r) => r.status,
        () => 'refused',
      );
      expect(response === 'refused' || response === 400).toBe(true);
    } finally {
      await server.close();
    }
  });
});
