import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSelfSignedCertificate } from '../../src/bootstrap/self-signed-cert.ts';
import type { AnchorLine } from '../../src/compliance/audit/audit-anchor-file.ts';
import { createAnchorWebhook } from '../../src/compliance/audit/audit-anchor-webhook.ts';
import { loadConfig } from '../../src/config.ts';
import { createTenantService } from '../../src/tenancy/tenant-service.ts';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../support/dialects.ts';
import { type AuditFixture, openAuditFixture } from './audit-fixture.ts';

/** An operator's HTTPS receiver on port 0 that answers each POST with the next status of `statuses`. */
async function startReceiver(dataDir: string, statuses: number[]) {
  const { certFile, keyFile } = await ensureSelfSignedCertificate(dataDir);
  const ca = readFileSync(certFile, 'utf8');
  const bodies: { anchors: AnchorLine[] }[] = [];
  let requests = 0;
  const server: Server = createServer({ cert: ca, key: readFileSync(keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const status = statuses[Math.min(requests, statuses.length - 1)] ?? 200;
      requests += 1;
      if (status === 200)
        bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { anchors: AnchorLine[] });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://localhost:${(server.address() as AddressInfo).port}/parley-anchors`;
  return {
    url,
    ca,
    bodies,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      ),
  };
}

/**
 * The external copy: whoever holds the master key and the data dir could rewrite the database and the
 * anchor file consistently, but not what the operator's webhook already received.
 */
describeEachDialect('audit anchors copied to the operator webhook', (dialect) => {
  let f: AuditFixture;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let scratch: TestDatabase;
  const givenUp: unknown[] = [];

  beforeAll(async () => {
    scratch = createTestDatabase('sqlite');
    // The receiver fails twice, then accepts: the first batch gets through on its third try.
    receiver = await startReceiver(scratch.dataDir, [503, 500, 200]);
    const webhook = createAnchorWebhook({
      url: receiver.url,
      ca: receiver.ca,
      attempts: 4,
      retryDelayMs: 10,
      onGiveUp: (error) => givenUp.push(error),
    });
    f = await openAuditFixture(dialect, { checkpointEvery: 5, batchSize: 4, webhook });
  });

  afterAll(async () => {
    await f.test.close();
    await receiver.close();
    await scratch.drop();
  });

  it('POSTs every anchor line, as written to the file, retrying until the receiver accepts', async () => {
    const tenants = createTenantService({
      storage: f.storage,
      clock: { now: () => f.clock.time },
      audit: f.audit,
      setupTokenTtlSeconds: 60,
    });
    const { tenantId } = await tenants.createTenant('Webhook');
    await f.audit.idle();
    expect(givenUp).toEqual([]);
    expect(receiver.requests()).toBe(3);
    const fileLines = readFileSync(f.anchorFile, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as AnchorLine);
    expect(receiver.bodies.flatMap((body) => body.anchors)).toEqual(fileLines);
    expect(fileLines.map((line) => [line.tenantId, line.seq])).toEqual([
      [tenantId, 1],
      ['system', 1],
    ]);
  });
});

describe('audit anchor webhook delivery', () => {
  let scratch: TestDatabase;

  beforeAll(() => {
    scratch = createTestDatabase('sqlite');
  });

  afterAll(async () => {
    await scratch.drop();
  });

  it('gives up after its last try and reports it, so the operator can see the copy is missing', async () => {
    const receiver = await startReceiver(scratch.dataDir, [500]);
    try {
      const givenUp: unknown[] = [];
      const webhook = createAnchorWebhook({
        url: receiver.url,
        ca: receiver.ca,
        attempts: 3,
        retryDelayMs: 10,
        onGiveUp: (error) => givenUp.push(error),
      });
      webhook.send([{ v: 1 } as AnchorLine]);
      await webhook.idle();
      expect(receiver.requests()).toBe(3);
      expect(givenUp).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it('accepts only an https: URL, in the configuration and in code', () => {
    expect(() => loadConfig({ PARLEY_AUDIT_ANCHOR_WEBHOOK_URL: 'http://example.test/anchors' })).toThrow(
      /PARLEY_AUDIT_ANCHOR_WEBHOOK_URL/,
    );
    expect(() => createAnchorWebhook({ url: 'http://example.test/', onGiveUp: () => undefined })).toThrow(
      /https/,
    );
    expect(loadConfig({ PARLEY_DATA_DIR: '/srv/parley' }).auditAnchorFile).toBe(
      '/srv/parley/audit-anchors.log',
    );
  });
});
