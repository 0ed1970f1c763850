import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../support/dialects.ts';
import { parley } from '../support/run-cli.ts';

const DAY_MS = 24 * 3600 * 1000;

describeEachDialect('parley tenant close / reopen / status / list --stage', (dialect) => {
  let database: TestDatabase;

  beforeAll(() => {
    database = createTestDatabase(dialect);
  });

  afterAll(async () => {
    await database.drop();
  });

  const run = async (args: string[]) => {
    const result = await parley(['tenant', ...args], database.env);
    return { ...result, json: () => JSON.parse(result.stdout) as Record<string, unknown> };
  };

  it('the operator closes a tenant with its export window, lists tenants by stage, reopens it during the window, and gets precise refusals', async () => {
    const tenantId = String((await run(['create', '--name', 'Leaving Ltd'])).json().tenantId);
    const other = String((await run(['create', '--name', 'Staying Ltd'])).json().tenantId);

    const closed = await run(['close', tenantId, '--export-days', '7']);
    expect(closed.code, closed.stderr).toBe(0);
    const closure = closed.json();
    expect(closure).toMatchObject({ tenantId, stage: 'closed', closedBy: 'operator' });
    expect(Date.parse(String(closure.exportUntil)) - Date.parse(String(closure.closedAt))).toBe(7 * DAY_MS);

    const listed = JSON.parse((await run(['list', '--stage', 'closed'])).stdout) as { tenantId: string }[];
    expect(listed.map((entry) => entry.tenantId)).toEqual([tenantId]);
    const active = JSON.parse((await run(['list', '--stage', 'active'])).stdout) as { tenantId: string }[];
    expect(active.map((entry) => entry.tenantId)).toContain(other);
    expect(active.map((entry) => entry.tenantId)).not.toContain(tenantId);

    // The window has not ended: nothing is purged yet.
    expect((await run(['purge-due'])).json()).toEqual({ purged: [], held: [] });
    const again = await run(['close', tenantId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('tenant_closed');

    const reopened = await run(['reopen', tenantId]);
    expect(reopened.code, reopened.stderr).toBe(0);
    expect(reopened.json()).toMatchObject({ tenantId, stage: 'active' });
    expect((await run(['status', tenantId])).json()).toMatchObject({ stage: 'active', closureId: null });
    const notClosed = await run(['reopen', tenantId]);
    expect(notClosed.code).toBe(1);
    expect(notClosed.stderr).toContain('tenant_not_closed');
  });

  it('a purge at the end of the window leaves a signed certificate, and audit verify reports the purged chain as purged, not deleted', async () => {
    const tenantId = String((await run(['create', '--name', 'Gone GmbH'])).json().tenantId);
    expect((await run(['close', tenantId, '--export-days', '0'])).code).toBe(0);
    expect((await run(['purge-due'])).json()).toEqual({ purged: [tenantId], held: [] });
    const status = (await run(['status', tenantId])).json() as {
      stage: string;
      certificate: { certificate: { tenantId: string }; signature: string } | null;
    };
    expect(status.stage).toBe('purged');
    expect(status.certificate?.certificate.tenantId).toBe(tenantId);
    const verified = await parley(['audit', 'verify'], database.env);
    expect(verified.code, verified.stdout).toBe(0);
    const line = verified.stdout
      .split('\n')
      .filter(Boolean)
      .map((text) => JSON.parse(text) as { tenantId?: string; ok: boolean; purged?: unknown })
      .find((entry) => entry.tenantId === tenantId);
    expect(line).toMatchObject({ ok: true, purged: expect.objectContaining({ keyId: expect.any(String) }) });
  });

  it('refuses an unknown stage and an unknown tenant', async () => {
    const stage = await run(['list', '--stage', 'archived']);
    expect(stage.code).toBe(1);
    expect(stage.stderr).toContain('unknown stage');
    const unknown = await run(['close', '00000000-0000-7000-8000-000000000000']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('not_found');
  });
});
