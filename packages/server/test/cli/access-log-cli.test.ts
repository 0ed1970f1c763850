import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AccessRecordView } from '../../src/compliance/access-log/index.ts';
import { withAuditMaintenance } from '../../src/compliance/audit/audit-prune-store.ts';
import { loadConfig } from '../../src/config.ts';
import { openStorage } from '../../src/storage/database.ts';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../support/dialects.ts';
import { bearer, json, newTenantOwner } from '../support/identity-fixtures.ts';
import { parley } from '../support/run-cli.ts';
import { newStaff } from '../support/staff-fixtures.ts';
import { startTestServer } from '../support/start-server.ts';

const lines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AccessRecordView);

/**
 * `parley access-log query|verify` (issue 17 point 6), as an operator runs them on the server's database: who
 * read a dialog between two times — a support grant's read among them — and the records checked against the
 * audit chain that chains them. Attack tried: a record altered in the database; `verify` exits 1 and names it.
 */
describeEachDialect('parley access-log', (dialect) => {
  let database: TestDatabase;
  let tenantId: string;
  let ownerId: string;
  let dialogId: string;
  let staffId: string;
  let grantId: string;
  let between: { from: string; to: string };

  beforeAll(async () => {
    database = createTestDatabase(dialect);
    const server = await startTestServer({ dialect, env: database.env });
    try {
      const owner = await newTenantOwner(server, 'Clinic CLI');
      ({ tenantId, userId: ownerId } = owner);
      await server.request('/v1/tenant/settings', json({ accessLogging: 'on' }, owner.accessToken, 'PATCH'));
      const created = await server.request(
        '/v1/dialogs',
        json({ type: 'group', name: 'Ward 3' }, owner.accessToken),
      );
      dialogId = created.json<{ id: string }>().id;
      await server.request(
        `/v1/dialogs/${dialogId}/messages`,
        json({ clientId: 'w3-1', body: 'bed 4' }, owner.accessToken),
      );
      expect(
        (await server.request(`/v1/dialogs/${dialogId}/messages`, bearer(owner.accessToken))).status,
      ).toBe(200);
      await server.app.services.accessLog.recorder.flush();
      const from = new Date().toISOString();
      const staff = await newStaff(server, 'support');
      staffId = staff.id;
      const asked = await server.request(
        '/v1/platform/support-grants',
        json(
          {
            tenantId,
            reason: 'Ticket 3: history empty.',
            scope: 'messages',
            dialogIds: [dialogId],
            durationHours: 1,
          },
          staff.accessToken,
        ),
      );
      grantId = asked.json<{ id: string }>().id;
      await server.request(`/v1/support-grants/${grantId}/approve`, json({}, owner.accessToken));
      const read = await server.request(`/v1/dialogs/${dialogId}/messages`, {
        headers: { authorization: `Bearer ${staff.accessToken}`, 'parley-support-grant': grantId },
      });
      expect(read.status, read.text).toBe(200);
      between = { from, to: new Date(Date.now() + 1000).toISOString() };
    } finally {
      // The staff read is still pending here: the shutdown writes it.
      await server.close();
    }
  });
  afterAll(async () => {
    await database.drop();
  });

  it('answers who read a dialog between two times, and verifies the records', async () => {
    const all = await parley(
      ['access-log', 'query', '--tenant', tenantId, '--dialog', dialogId],
      database.env,
    );
    expect(all.code, all.stderr).toBe(0);
    expect(lines(all.stdout).map((record) => record.reader.id)).toEqual([ownerId, staffId]);
    const window = await parley(
      [
        'access-log',
        'query',
        '--tenant',
        tenantId,
        '--dialog',
        dialogId,
        '--from',
        between.from,
        '--to',
        between.to,
      ],
      database.env,
    );
    expect(lines(window.stdout)).toEqual([
      expect.objectContaining({
        kind: 'history',
        reader: expect.objectContaining({ type: 'staff', id: staffId }) as object,
        supportGrantId: grantId,
      }),
    ]);
    const bad = await parley(
      ['access-log', 'query', '--tenant', tenantId, '--from', 'yesterday'],
      database.env,
    );
    expect(bad.code).toBe(2);

    const verified = await parley(['access-log', 'verify', '--tenant', tenantId], database.env);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ tenantId, ok: true, records: 2 });
  });

  it('exits 1 and names the batch when a stored record was altered', async () => {
    const storage = openStorage(loadConfig(database.env));
    try {
      // As the database's owner: the application role may only append to the access log.
      await withAuditMaintenance(storage, tenantId, (tx) =>
        tx.updateTable('access_log').set({ reader_id: ownerId }).where('reader_id', '=', staffId).execute(),
      );
    } finally {
      await storage.close();
    }
    const verified = await parley(['access-log', 'verify', '--tenant', tenantId], database.env);
    expect(verified.code).toBe(1);
    expect(JSON.parse(verified.stdout)).toMatchObject({
      tenantId,
      ok: false,
      reason: 'batch_digest_mismatch',
      batchSeq: expect.any(Number) as number,
    });
  });
});
