import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PLATFORM_CHAIN_ID } from '../../../src/compliance/audit/audit-entry.ts';
import { describeEachDialect } from '../../support/dialects.ts';
import { bearer, json, newMember, newTenantOwner, type SignedIn } from '../../support/identity-fixtures.ts';
import { ManualClock, newStaff, type SignedInStaff } from '../../support/staff-fixtures.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';
import { unpackArchive } from '../gdpr/export-archive-fixtures.ts';
import { downloadBytes, runDueJobs } from '../gdpr/export-download.ts';

const MINUTE = 60_000;
const DAY = 24 * 3600_000;
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * The disclosure package of a law-enforcement request (issue 18, point 2): built by the export engine from the
 * approved scope only — a narrowed scope leaves out the account, dialog, time and kinds the order named but the
 * review struck — sealed at rest, its SHA-256 recorded on the request and equal to the archive's, refused
 * before approval and before the tenant notice, downloadable by security officers only until its window ends,
 * and every step in the platform audit chain (never the tenant's).
 */
describeEachDialect('law-enforcement disclosure package', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock();
  let officer: SignedInStaff;
  let owner: SignedIn;
  const people: Record<'alice' | 'bob' | 'carol', { userId: string; token: string }> = {} as never;
  const dialogs: Record<'group' | 'pair', string> = {} as never;
  /** Message ids by label, and the times the order and the review name. */
  const sent = new Map<string, string>();
  let t0 = 0;

  const post = (path: string, body: unknown = {}) => server.request(path, json(body, officer.accessToken));
  const send = async (who: keyof typeof people, dialog: keyof typeof dialogs, label: string) => {
    const response = await server.request(
      `/v1/dialogs/${dialogs[dialog]}/messages`,
      json({ clientId: label, body: `text ${label}` }, people[who].token),
    );
    expect(response.status, response.text).toBe(201);
    sent.set(label, response.json<{ id: string }>().id);
  };

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
    officer = await newStaff(server, 'security_officer', clock);
    owner = await newTenantOwner(server, 'Subject Ltd');
    people.alice = await newMember(server, owner, 'alice@subject.example');
    people.bob = await newMember(server, owner, 'bob@subject.example');
    people.carol = await newMember(server, owner, 'carol@subject.example');
    const group = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Ops', memberIds: [people.bob.userId] }, people.alice.token),
    );
    dialogs.group = group.json<{ id: string }>().id;
    const pair = await server.request(
      '/v1/dialogs',
      json({ type: 'private', memberIds: [people.carol.userId] }, people.alice.token),
    );
    dialogs.pair = pair.json<{ id: string }>().id;
    t0 = clock.now();
    // Minutes apart, so the members' access tokens stay valid.
    clock.advance(MINUTE);
    await send('alice', 'group', 'alice-group-1');
    await send('bob', 'group', 'bob-group-1');
    await send('alice', 'pair', 'alice-pair-1');
    await send('carol', 'pair', 'carol-pair-1');
    clock.advance(MINUTE);
    await send('alice', 'group', 'alice-group-2');
    clock.advance(5 * MINUTE);
    await send('alice', 'group', 'alice-group-late');
  });
  afterAll(async () => {
    await server.close();
  });

  const order = () => ({
    userIds: [people.alice.userId, people.bob.userId],
    dialogIds: [dialogs.group, dialogs.pair],
    from: new Date(t0).toISOString(),
    to: new Date(t0 + 4 * MINUTE).toISOString(),
    kinds: ['account', 'messages', 'sessions'],
  });
  const register = async (reference: string) => {
    const created = await post('/v1/platform/legal-requests', {
      authority: 'National Crime Agency',
      legalBasis: 'Production order, s. 9 PACE 1984',
      orderReference: reference,
      scope: 'Accounts, messages and sessions of Alice and Bob in the Ops group and Alice’s private dialog',
      scopeSpec: order(),
      tenantId: owner.tenantId,
      receivedAt: new Date(clock.now()).toISOString(),
      deadlineAt: new Date(clock.now() + 14 * DAY).toISOString(),
    });
    expect(created.status, created.text).toBe(201);
    return created.json<{ id: string }>().id;
  };
  const narrowed = () => ({
    valid: true,
    binding: true,
    decision: 'narrow',
    approvedScope: 'Alice’s account and her messages in the Ops group only',
    approvedScopeSpec: {
      ...order(),
      userIds: [people.alice.userId],
      dialogIds: [dialogs.group],
      kinds: ['messages', 'account'],
    },
    notes: 'Bob is not named in the supporting affidavit; sessions are out of proportion.',
  });
  const platformActions = async () =>
    (
      await server.app.storage.withTenant(PLATFORM_CHAIN_ID, (tx) =>
        server.app.services.audit.query(
          tx,
          PLATFORM_CHAIN_ID,
          { action: 'legal_request.*' },
          { limit: 500, order: 'asc' },
        ),
      )
    ).entries
      .map((entry) => entry.action)
      .filter((action) => action.startsWith('legal_request.package_'));

  it('refuses a scope naming nobody, an empty range or an unknown kind, and a package of no request', async () => {
    for (const scopeSpec of [
      { ...order(), userIds: [], dialogIds: [] },
      { ...order(), from: order().to },
      { ...order(), kinds: ['attachments'] },
      { ...order(), kinds: [] },
    ]) {
      const refused = await post('/v1/platform/legal-requests', {
        authority: 'National Crime Agency',
        legalBasis: 'Production order',
        orderReference: 'NCA-BAD',
        scope: 'Everything',
        scopeSpec,
        tenantId: owner.tenantId,
        receivedAt: new Date(clock.now()).toISOString(),
        deadlineAt: new Date(clock.now() + DAY).toISOString(),
      });
      expect(refused.status, JSON.stringify(scopeSpec)).toBe(400);
      expect(refused.json()).toMatchObject({ error: { code: 'validation_failed' } });
    }
    // An order registered in words only, approved as is: nothing the export engine could select by.
    const worded = await post('/v1/platform/legal-requests', {
      authority: 'National Crime Agency',
      legalBasis: 'Production order',
      orderReference: 'NCA-WORDS',
      scope: 'Subscriber data of the account behind alice@subject.example',
      tenantId: owner.tenantId,
      receivedAt: new Date(clock.now()).toISOString(),
      deadlineAt: new Date(clock.now() + DAY).toISOString(),
    });
    const wordedId = worded.json<{ id: string }>().id;
    await post(`/v1/platform/legal-requests/${wordedId}/review`, {
      valid: true,
      binding: true,
      decision: 'approve',
      notes: 'Valid.',
    });
    await post(`/v1/platform/legal-requests/${wordedId}/tenant-notice`);
    const undefinedScope = await post(`/v1/platform/legal-requests/${wordedId}/package`);
    expect(undefinedScope.status).toBe(409);
    expect(undefinedScope.json()).toMatchObject({ error: { code: 'legal_scope_undefined' } });
    const unknown = await post(`/v1/platform/legal-requests/${crypto.randomUUID()}/package`);
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('refuses a narrowed scope that reaches beyond the order', async () => {
    const id = await register('NCA-WIDE');
    const wider = [
      { ...order(), userIds: [people.alice.userId, people.carol.userId] },
      { ...order(), userIds: [] },
      { ...order(), to: new Date(t0 + 2 * DAY).toISOString() },
    ];
    for (const approvedScopeSpec of wider) {
      const refused = await post(`/v1/platform/legal-requests/${id}/review`, {
        ...narrowed(),
        approvedScopeSpec,
      });
      expect(refused.status, refused.text).toBe(400);
      expect(refused.json()).toMatchObject({ error: { code: 'legal_scope_not_within_order' } });
    }
  });

  it('holds exactly the records inside the narrowed scope, and the hash recorded is the archive’s', async () => {
    const id = await register('NCA-1');
    const early = await post(`/v1/platform/legal-requests/${id}/package`);
    expect(early.json()).toMatchObject({ error: { code: 'legal_request_not_approved' } });
    const reviewed = await post(`/v1/platform/legal-requests/${id}/review`, narrowed());
    expect(reviewed.status, reviewed.text).toBe(200);
    expect(reviewed.json()).toMatchObject({
      narrowed: true,
      approvedScopeSpec: { kinds: ['account', 'messages'] },
    });
    const unnoticed = await post(`/v1/platform/legal-requests/${id}/package`);
    expect(unnoticed.json()).toMatchObject({ error: { code: 'tenant_notice_required' } });
    expect((await post(`/v1/platform/legal-requests/${id}/tenant-notice`)).status).toBe(200);

    const queued = await post(`/v1/platform/legal-requests/${id}/package`);
    expect(queued.status, queued.text).toBe(202);
    expect(queued.json()).toMatchObject({ status: 'building', sha256: null });
    const twice = await post(`/v1/platform/legal-requests/${id}/package`);
    expect(twice.json()).toMatchObject({ error: { code: 'legal_package_exists' } });
    await runDueJobs(server);
    const ready = await server.request(
      `/v1/platform/legal-requests/${id}/package`,
      bearer(officer.accessToken),
    );
    expect(ready.json()).toMatchObject({ status: 'ready', records: 3 });
    const { sha256, archiveBytes } = ready.json<{ sha256: string; archiveBytes: number }>();

    const download = await downloadBytes(
      server,
      `/v1/platform/legal-requests/${id}/package/archive`,
      officer.accessToken,
    );
    expect(download.status).toBe(200);
    expect(download.headers['content-type']).toBe('application/gzip');
    expect(download.body.length).toBe(archiveBytes);
    expect(sha(download.body)).toBe(sha256);
    const request = await server.request('/v1/platform/legal-requests', bearer(officer.accessToken));
    expect(
      request.json<{ requests: { id: string; packageSha256: string }[] }>().requests.find((r) => r.id === id),
    ).toMatchObject({ packageSha256: sha256 });

    const files = await unpackArchive(download.body);
    const root = `parley-disclosure-${id}`;
    expect([...files.keys()].sort()).toEqual(
      [`${root}/accounts/000001.json`, `${root}/manifest.json`, `${root}/messages/000001.json`].sort(),
    );
    const records = (path: string) =>
      (
        JSON.parse(files.get(`${root}/${path}`)?.toString('utf8') ?? '{}') as {
          records: Record<string, unknown>[];
        }
      ).records;
    expect(records('accounts/000001.json')).toEqual([
      expect.objectContaining({ id: people.alice.userId, email: 'alice@subject.example' }),
    ]);
    expect(
      records('messages/000001.json')
        .map((message) => message.id)
        .sort(),
    ).toEqual([sent.get('alice-group-1'), sent.get('alice-group-2')].sort());
    expect(records('messages/000001.json')).toContainEqual(
      expect.objectContaining({
        body: 'text alice-group-1',
        sender: people.alice.userId,
        dialogId: dialogs.group,
      }),
    );
    // Nothing the review struck out (Bob, the private dialog, sessions) nor outside the time range.
    const everything = [...files.values()].map((file) => file.toString('utf8')).join('\n');
    for (const absent of [
      'bob-group-1',
      'alice-pair-1',
      'carol-pair-1',
      'alice-group-late',
      'bob@subject.example',
      'carol@subject.example',
    ])
      expect(everything).not.toContain(absent);
    expect(everything).not.toContain(people.bob.userId);
    expect(everything).not.toContain(dialogs.pair);

    // Sealed at rest: the stored chunks are not the archive and hold none of its text.
    const stored = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx.selectFrom('legal_package_chunks').select('data').where('tenant_id', '=', owner.tenantId).execute(),
    );
    const sealed = Buffer.concat(stored.map((row) => Buffer.from(row.data)));
    expect(sealed.length).toBeGreaterThan(0);
    expect(sealed.includes(download.body.subarray(0, 64))).toBe(false);
    expect(sealed[0] === 0x1f && sealed[1] === 0x8b).toBe(false);

    const disclosed = await post(`/v1/platform/legal-requests/${id}/disclosure`, { packageSha256: sha256 });
    expect(disclosed.json()).toMatchObject({ status: 'disclosed', packageSha256: sha256 });
    expect(await platformActions()).toEqual([
      'legal_request.package_requested',
      'legal_request.package_built',
      'legal_request.package_downloaded',
    ]);
    // The tenant's own chain says nothing of the package (a gagged tenant must not learn of it there).
    const tenantEntries = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      server.app.services.audit.query(
        tx,
        owner.tenantId,
        { action: 'legal_request.*' },
        { limit: 50, order: 'asc' },
      ),
    );
    // Only the notices (this request's and the earlier test's): nothing about packages.
    expect(new Set(tenantEntries.entries.map((entry) => entry.action))).toEqual(
      new Set(['legal_request.tenant_notified']),
    );
  });

  it('lets only security officers download, and only until the window ends', async () => {
    const id = await register('NCA-2');
    await post(`/v1/platform/legal-requests/${id}/review`, {
      valid: true,
      binding: true,
      decision: 'approve',
      notes: 'Court order under seal.',
      nonDisclosureUntil: new Date(clock.now() + 60 * DAY).toISOString(),
    });
    // Under a non-disclosure order the package may be built before any notice.
    expect((await post(`/v1/platform/legal-requests/${id}/package`)).status).toBe(202);
    const path = `/v1/platform/legal-requests/${id}/package/archive`;
    const building = await downloadBytes(server, path, officer.accessToken);
    expect(building.status).toBe(409);
    expect(JSON.parse(building.body.toString('utf8'))).toMatchObject({
      error: { code: 'legal_package_not_ready' },
    });
    await runDueJobs(server);
    const support = await newStaff(server, 'support', clock);
    expect((await downloadBytes(server, path, support.accessToken)).status).toBe(403);
    expect((await downloadBytes(server, path, owner.accessToken)).status).toBe(404);
    const full = await downloadBytes(server, path, officer.accessToken);
    expect(full.status).toBe(200);
    const files = await unpackArchive(full.body);
    // Approved as ordered: Bob, the private dialog and sessions are in scope this time.
    expect([...files.keys()].some((name) => name.endsWith('sessions/000001.json'))).toBe(true);
    const messages = JSON.parse(
      files.get(`parley-disclosure-${id}/messages/000001.json`)?.toString('utf8') ?? '{}',
    ) as { records: { id: string }[] };
    expect(messages.records.map((message) => message.id).sort()).toEqual(
      ['alice-group-1', 'bob-group-1', 'alice-pair-1', 'alice-group-2']
        .map((label) => sent.get(label))
        .sort(),
    );

    clock.advance(7 * DAY + 1);
    officer = await newStaff(server, 'security_officer', clock);
    const late = await downloadBytes(server, path, officer.accessToken);
    expect(late.status).toBe(410);
    expect(JSON.parse(late.body.toString('utf8'))).toMatchObject({
      error: { code: 'legal_package_expired' },
    });
    // The scheduled pass may have run already when the clock jumped, and two more passes run at once here:
    // however many passes see a package due, it is expired and audited once.
    const { packages } = server.app.services.legalRequests;
    await Promise.all([packages.expire(), packages.expire()]);
    expect((await platformActions()).filter((action) => action.endsWith('_expired'))).toHaveLength(2);
    const left = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx.selectFrom('legal_package_chunks').select('idx').where('tenant_id', '=', owner.tenantId).execute(),
    );
    expect(left).toEqual([]);
    const status = await server.request(
      `/v1/platform/legal-requests/${id}/package`,
      bearer(officer.accessToken),
    );
    expect(status.json()).toMatchObject({ status: 'expired' });
  });
});
