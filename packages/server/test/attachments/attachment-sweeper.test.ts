import { afterAll, beforeAll, expect, it } from 'vitest';
import { ABANDONED_UPLOAD_MS, createAttachmentSweeper } from '../../src/attachments/attachment-sweeper.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/** A node that dies mid-upload leaves encrypted chunks nobody can share or download: they are swept. */
describeEachDialect('abandoned attachment uploads', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let skew = 0;
  const clock = { now: () => Date.now() + skew };

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
    owner = await newTenantOwner(server, 'Sweep Clinic');
  });

  afterAll(async () => {
    await server.close();
  });

  const upload = async (name: string) => {
    const response = await server.request(`/v1/attachments?name=${name}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(200_000, 7),
    });
    expect(response.status, response.text).toBe(201);
    return response.json<{ id: string }>().id;
  };

  it('removes uploads left unfinished for a day, chunks included, and keeps complete ones', async () => {
    const kept = await upload('kept.bin');
    const abandoned = await upload('abandoned.bin');
    const { storage } = server.app;
    // What a node that died mid-upload leaves behind: the row still uploading, its chunks stored.
    await storage.withTenant(owner.tenantId, (tx) =>
      tx
        .updateTable('attachments')
        .set({ status: 'uploading', completed_at: null })
        .where('id', '=', abandoned)
        .execute(),
    );
    const sweeper = createAttachmentSweeper({ storage, clock });
    expect(await sweeper.sweepAbandoned()).toBe(0); // not old enough yet
    skew = ABANDONED_UPLOAD_MS + 60_000;
    expect(await sweeper.sweepAbandoned()).toBe(1);
    const left = await storage.withTenant(owner.tenantId, async (tx) => ({
      attachments: (await tx.selectFrom('attachments').select('id').execute()).map((row) => row.id),
      chunks: (await tx.selectFrom('attachment_chunks').select('attachment_id').distinct().execute()).map(
        (row) => row.attachment_id,
      ),
    }));
    expect(left).toEqual({ attachments: [kept], chunks: [kept] });
  });
});
