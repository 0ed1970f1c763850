import type { DataSubjectRequestBody, OwnDataSubjectRequestBody } from '@parley/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../../support/dialects.ts';
import {
  bearer,
  json,
  memberPassword,
  newMember,
  newTenantOwner,
  type SignedIn,
  signIn,
} from '../../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';
import { auditEntries, DAY_MS, storedRequest } from './gdpr-fixtures.ts';

type Page = { requests: DataSubjectRequestBody[]; nextCursor: string | null };

describeEachDialect('data subject requests', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let bob: { userId: string; token: string };
  let carol: { userId: string; token: string };
  let officer: string;

  const record = async (subjectId: string, daysAgo: number, kind = 'access') => {
    const response = await server.request(
      '/v1/privacy/requests',
      json(
        { subjectId, kind, receivedAt: new Date(Date.now() - daysAgo * DAY_MS).toISOString() },
        owner.accessToken,
      ),
    );
    expect(response.status, response.text).toBe(201);
    return response.json<DataSubjectRequestBody>();
  };
  const list = async (query: string, token = owner.accessToken) => {
    const response = await server.request(`/v1/privacy/requests${query}`, bearer(token));
    expect(response.status, response.text).toBe(200);
    return response.json<Page>();
  };
  const patch = (id: string, body: unknown, token = owner.accessToken) =>
    server.request(`/v1/privacy/requests/${id}`, json(body, token, 'PATCH'));
  const extend = (id: string, body: unknown) =>
    server.request(`/v1/privacy/requests/${id}/extension`, json(body, owner.accessToken));

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Requests Inc');
    bob = await newMember(server, owner, 'bob@requests.example', 'profile chat');
    carol = await newMember(server, owner, 'carol@requests.example', 'profile chat');
    const created = await server.request(
      '/v1/users',
      json(
        {
          displayName: 'Dana Officer',
          email: 'dana@requests.example',
          password: memberPassword,
          roles: ['compliance_officer'],
        },
        owner.accessToken,
      ),
    );
    expect(created.status, created.text).toBe(201);
    officer = (await signIn(server, owner.tenantId, 'dana@requests.example', memberPassword, 'profile admin'))
      .accessToken;
  });

  afterAll(async () => {
    await server.close();
  });

  it('a user files a request and sees it with its 30-day deadline; administrators see who filed it', async () => {
    const filed = await server.request(
      '/v1/me/privacy-requests',
      json({ kind: 'objection', note: 'Please stop using my data for analytics.' }, bob.token),
    );
    expect(filed.status, filed.text).toBe(201);
    const own = filed.json<OwnDataSubjectRequestBody>();
    expect(own).toMatchObject({
      subjectId: bob.userId,
      kind: 'objection',
      source: 'subject',
      status: 'received',
      extendedUntil: null,
      overdue: false,
      note: 'Please stop using my data for analytics.',
      outcome: null,
    });
    expect(Date.parse(own.deadlineAt) - Date.parse(own.receivedAt)).toBe(30 * DAY_MS);
    expect(own.dueAt).toBe(own.deadlineAt);
    // The subject is not told which staff member filed or handles it.
    expect(own).not.toHaveProperty('handledBy');
    expect(own).not.toHaveProperty('requestedBy');

    const seen = await server.request(`/v1/privacy/requests/${own.id}`, bearer(officer));
    expect(seen.status, seen.text).toBe(200);
    expect(seen.json<DataSubjectRequestBody>()).toMatchObject({
      requestedBy: bob.userId,
      handledBy: null,
      note: 'Please stop using my data for analytics.',
    });

    // Sealed at rest: the note is an envelope under Bob's key, not his words.
    const row = await storedRequest(server, owner.tenantId, own.id);
    expect(row.note).toMatch(/^pf1\.u\./);
    expect(JSON.stringify(row)).not.toContain('analytics');
  });

  it('a user may file only the kinds meant for them, and no user can file for another', async () => {
    const erasure = await server.request('/v1/me/privacy-requests', json({ kind: 'erasure' }, bob.token));
    expect(erasure.status).toBe(400);
    const forCarol = await server.request(
      '/v1/me/privacy-requests',
      json({ kind: 'access', subjectId: carol.userId }, bob.token),
    );
    expect(forCarol.status).toBe(400);
    const managed = await server.request('/v1/privacy/requests', bearer(bob.token));
    expect(managed.status).toBe(403);
  });

  it('lists open requests soonest deadline first, flags the overdue ones and filters them', async () => {
    const late = await record(carol.userId, 40);
    const middle = await record(carol.userId, 20);
    const recent = await record(carol.userId, 10);
    const open = await list('?subjectId=' + carol.userId);
    expect(open.requests.map((request) => request.id)).toEqual([late.id, middle.id, recent.id]);
    expect(open.requests.map((request) => request.overdue)).toEqual([true, false, false]);

    const overdue = await list('?overdue=true');
    expect(overdue.requests.map((request) => request.id)).toEqual([late.id]);
    const inTime = await list(`?overdue=false&subjectId=${carol.userId}`);
    expect(inTime.requests.map((request) => request.id)).toEqual([middle.id, recent.id]);

    // Paged in the same order.
    const first = await list(`?subjectId=${carol.userId}&limit=2`);
    expect(first.requests.map((request) => request.id)).toEqual([late.id, middle.id]);
    const second = await list(
      `?subjectId=${carol.userId}&limit=2&cursor=${encodeURIComponent(first.nextCursor ?? '')}`,
    );
    expect(second.requests.map((request) => request.id)).toEqual([recent.id]);
    expect(second.nextCursor).toBeNull();
  });

  it('refuses a request received in the future, or about a user who does not exist', async () => {
    const future = await server.request(
      '/v1/privacy/requests',
      json(
        { subjectId: carol.userId, kind: 'access', receivedAt: new Date(Date.now() + DAY_MS).toISOString() },
        owner.accessToken,
      ),
    );
    expect(future.status).toBe(400);
    const nobody = await server.request(
      '/v1/privacy/requests',
      json({ subjectId: '01900000-0000-7000-8000-000000000000', kind: 'access' }, owner.accessToken),
    );
    expect(nobody.status).toBe(404);
  });

  it('extends a deadline only later, with a reason, and never past 90 days after receipt', async () => {
    const request = await record(carol.userId, 35, 'export');
    const received = Date.parse(request.receivedAt);
    const tooFar = await extend(request.id, {
      until: new Date(received + 91 * DAY_MS).toISOString(),
      reason: 'Complex request',
    });
    expect(tooFar.status).toBe(409);
    expect(tooFar.json<{ error: { code: string } }>().error.code).toBe('deadline_extension_limit');
    const earlier = await extend(request.id, {
      until: new Date(received + 20 * DAY_MS).toISOString(),
      reason: 'Complex request',
    });
    expect(earlier.status).toBe(400);
    const withoutReason = await extend(request.id, { until: new Date(received + 60 * DAY_MS).toISOString() });
    expect(withoutReason.status).toBe(400);

    const extended = await extend(request.id, {
      until: new Date(received + 60 * DAY_MS).toISOString(),
      reason: 'Archives must be restored from tape.',
    });
    expect(extended.status, extended.text).toBe(200);
    expect(extended.json<DataSubjectRequestBody>()).toMatchObject({
      deadlineAt: new Date(received + 30 * DAY_MS).toISOString(),
      extendedUntil: new Date(received + 60 * DAY_MS).toISOString(),
      dueAt: new Date(received + 60 * DAY_MS).toISOString(),
      extensionReason: 'Archives must be restored from tape.',
      // Received 35 days ago: overdue by the statutory deadline, within the extension.
      overdue: false,
      handledBy: owner.userId,
    });
    const exactlyNinety = await extend(request.id, {
      until: new Date(received + 90 * DAY_MS).toISOString(),
      reason: 'Second extension',
    });
    expect(exactlyNinety.status, exactlyNinety.text).toBe(200);
  });

  it('closing needs an outcome and is final; the subject reads the outcome', async () => {
    const filed = await server.request('/v1/me/privacy-requests', json({ kind: 'access' }, carol.token));
    const { id } = filed.json<OwnDataSubjectRequestBody>();
    expect((await patch(id, { status: 'completed' })).status).toBe(400);
    const started = await patch(id, { status: 'in_progress' }, officer);
    expect(started.status, started.text).toBe(200);
    expect(started.json<DataSubjectRequestBody>().status).toBe('in_progress');
    const closed = await patch(id, { status: 'completed', outcome: 'A copy was sent by registered mail.' });
    expect(closed.status, closed.text).toBe(200);
    expect(closed.json<DataSubjectRequestBody>()).toMatchObject({
      status: 'completed',
      outcome: 'A copy was sent by registered mail.',
      handledBy: owner.userId,
      overdue: false,
    });
    expect(closed.json<DataSubjectRequestBody>().closedAt).not.toBeNull();

    for (const again of [
      await patch(id, { status: 'refused', outcome: 'Changed our mind.' }),
      await patch(id, { status: 'in_progress' }),
      await extend(id, { until: new Date(Date.now() + 40 * DAY_MS).toISOString(), reason: 'Late' }),
    ]) {
      expect(again.status).toBe(409);
      expect(again.json<{ error: { code: string } }>().error.code).toBe('request_closed');
    }
    expect((await list('?status=open')).requests.map((request) => request.id)).not.toContain(id);
    expect((await list('?status=closed')).requests.map((request) => request.id)).toContain(id);

    const own = await server.request('/v1/me/privacy-requests', bearer(carol.token));
    const mine = own.json<{ requests: OwnDataSubjectRequestBody[] }>().requests;
    expect(mine.find((request) => request.id === id)).toMatchObject({
      status: 'completed',
      outcome: 'A copy was sent by registered mail.',
    });
    // Only Carol's own requests, never Bob's.
    expect(mine.every((request) => request.subjectId === carol.userId)).toBe(true);
  });

  it('audits every step by kind and status, never with the texts', async () => {
    const entries = await auditEntries(server, owner.tenantId, 'privacy.request_');
    const actions = new Set(entries.map((entry) => entry.action));
    for (const action of [
      'privacy.request_received',
      'privacy.request_extended',
      'privacy.request_in_progress',
      'privacy.request_completed',
    ])
      expect(actions).toContain(action);
    expect(entries.every((entry) => entry.target_type === 'data_subject_request')).toBe(true);
    const details = entries.map((entry) => entry.details).join('\n');
    for (const text of ['analytics', 'tape', 'registered mail']) expect(details).not.toContain(text);
  });

  it("another tenant's request does not exist for you", async () => {
    const other = await newTenantOwner(server, 'Elsewhere Ltd');
    const theirs = await server.request(
      '/v1/privacy/requests',
      json({ subjectId: other.userId, kind: 'access' }, other.accessToken),
    );
    const { id } = theirs.json<DataSubjectRequestBody>();
    expect((await server.request(`/v1/privacy/requests/${id}`, bearer(owner.accessToken))).status).toBe(404);
    expect((await patch(id, { status: 'in_progress' })).status).toBe(404);
    const crossSubject = await server.request(
      '/v1/privacy/requests',
      json({ subjectId: other.userId, kind: 'access' }, owner.accessToken),
    );
    expect(crossSubject.status).toBe(404);
    expect((await list('')).requests.map((request) => request.id)).not.toContain(id);
  });
});
