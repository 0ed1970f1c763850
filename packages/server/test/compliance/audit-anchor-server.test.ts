import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AnchorLine } from '../../src/compliance/audit/audit-anchor-file.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

describeEachDialect('a running server anchors audit chains in its data dir', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
  });

  afterAll(async () => {
    await server.close();
  });

  it('anchors a new tenant’s first entry and the system chain at once, in a 0600 append-only file', async () => {
    const { tenantId } = await server.app.tenants.createTenant('Anchored at once');
    const file = path.join(server.database.dataDir, 'audit-anchors.log');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as AnchorLine);
    expect(lines.find((line) => line.tenantId === tenantId)).toMatchObject({
      seq: 1,
      line: expect.any(Number),
    });
    expect(lines.some((line) => line.tenantId === 'system' && line.seq >= 1)).toBe(true);
    expect(lines.map((line) => line.line)).toEqual(lines.map((_, index) => index + 1));
  });
});
