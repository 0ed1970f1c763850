import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import {
  bearer,
  json,
  memberPassword,
  newTenantOwner,
  ownerPassword,
  type SignedIn,
  signIn,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestResponse, type TestServer } from '../support/start-server.ts';

/**
 * `GET /v1/tenant/users` lists a tenant's users to its administrators a page at a time, with names and e-mails
 * opened from their sealed columns; `GET /v1/users?email=` keeps the exact look-up by e-mail. Paging by keyset returns every user exactly
 * once; the status and role filters narrow it. Attacks tried: a member (holds `users.read` for chat, not `users.list`)
 * asking for the whole directory, a guest, and a token without the `admin` scope (403); another tenant's users (never listed, never found by address); a made-up, mangled, foreign
 * (another tenant's) or re-filtered cursor (400 `invalid_cursor`, never a 500 or a page).
 */
interface Listed {
  id: string;
  displayName: string | null;
  email: string | null;
  status: string;
  roles: string[];
  createdAt: string;
}
interface Page {
  users: Listed[];
  nextCursor?: string;
}

describeEachDialect('admin user listing: pages, filters, tenant isolation', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let other: SignedIn;
  /** The 25 users made in `beforeAll`, in creation order. */
  const made: { id: string; email: string; role: string }[] = [];
  const otherIds: string[] = [];

  const createUser = async (tenant: SignedIn, email: string, role: string) => {
    const response = await server.request(
      '/v1/users',
      json(
        {
          displayName: `Person ${email.split('@')[0] ?? ''}`,
          email,
          password: memberPassword,
          roles: [role],
        },
        tenant.accessToken,
      ),
    );
    if (response.status !== 201) throw new Error(`create ${email}: ${response.status} ${response.text}`);
    return response.json<{ userId: string }>().userId;
  };
  const list = (query: string, token = owner.accessToken) =>
    server.request(`/v1/tenant/users${query}`, bearer(token));
  const lookUp = (query: string, token = owner.accessToken) =>
    server.request(`/v1/users${query}`, bearer(token));
  const errorCode = (response: TestResponse) => response.json<{ error: { code: string } }>().error.code;

  /** Follows `nextCursor` to the end; the users of every page, in order. */
  async function everyPage(filters: string, limit: number): Promise<{ pages: number[]; users: Listed[] }> {
    const pages: number[] = [];
    const users: Listed[] = [];
    let cursor: string | undefined;
    do {
      const response = await list(
        `?limit=${limit}${filters}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(response.status).toBe(200);
      const page = response.json<Page>();
      pages.push(page.users.length);
      users.push(...page.users);
      cursor = page.nextCursor;
    } while (cursor !== undefined && pages.length < 50);
    return { pages, users };
  }

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Directory Inc');
    other = await newTenantOwner(server, 'Elsewhere Directory Ltd');
    for (let index = 0; index < 25; index += 1) {
      const email = `person${index}@directory.example`;
      const role = index % 5 === 0 ? 'support_agent' : 'member';
      made.push({ id: await createUser(owner, email, role), email, role });
    }
    for (let index = 0; index < 3; index += 1)
      otherIds.push(await createUser(other, `stranger${index}@elsewhere.example`, 'member'));
  });

  afterAll(async () => {
    await server.close();
  });

  it('pages through every user of the tenant exactly once, oldest first, names and e-mails readable', async () => {
    const { pages, users } = await everyPage('', 7);
    // 25 made + the owner = 26: three full pages and a last one, no empty trailing page.
    expect(pages).toEqual([7, 7, 7, 5]);
    const ids = users.map((user) => user.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual([owner.userId, ...made.map((user) => user.id)].sort());
    expect(users[0]).toMatchObject({
      id: owner.userId,
      email: owner.email,
      displayName: 'Olivia Owner',
      status: 'active',
      roles: ['owner'],
    });
    expect(users.slice(1).map((user) => user.email)).toEqual(made.map((user) => user.email));
    expect(users[1]).toMatchObject({ displayName: 'Person person0', roles: ['support_agent'] });
    expect(Number.isNaN(Date.parse(users[1]?.createdAt ?? ''))).toBe(false);
    // The default page holds 50: all 26 at once.
    const whole = (await list('')).json<Page>();
    expect(whole.users).toHaveLength(26);
    expect(whole.nextCursor).toBeUndefined();
  });

  it('filters by role and by status; a deactivated user is listed with that status', async () => {
    const agents = await everyPage('&role=support_agent', 2);
    expect(agents.users.map((user) => user.id)).toEqual(
      made.filter((user) => user.role === 'support_agent').map((user) => user.id),
    );
    expect(agents.pages).toEqual([2, 2, 1]);

    const deactivated = [made[3], made[10], made[20]].map((user) => user?.id ?? '');
    for (const id of deactivated) {
      const changed = await server.request(
        `/v1/users/${id}`,
        json({ status: 'deactivated' }, owner.accessToken, 'PATCH'),
      );
      expect(changed.status).toBe(204);
    }
    const off = await everyPage('&status=deactivated', 2);
    expect(off.users.map((user) => user.id)).toEqual(deactivated);
    expect(off.users.every((user) => user.status === 'deactivated')).toBe(true);
    const active = await everyPage('&status=active', 10);
    expect(active.users).toHaveLength(23);
    expect(active.users.some((user) => deactivated.includes(user.id))).toBe(false);
    // Unfiltered, they are still there, with their status.
    const all = (await list('?limit=100')).json<Page>().users;
    expect(all.find((user) => user.id === made[10]?.id)).toMatchObject({
      status: 'deactivated',
      email: made[10]?.email,
    });
    // Both filters at once.
    const both = (await list('?status=deactivated&role=support_agent')).json<Page>();
    expect(both.users.map((user) => user.id)).toEqual([made[10]?.id, made[20]?.id]);
    expect((await list('?status=erased')).json<Page>()).toEqual({ users: [] });
  });

  it('keeps the exact look-up by e-mail, in the same shape, and refuses mixing it with paging', async () => {
    const found = (await lookUp('?email=PERSON7%40directory.example')).json<Page>();
    expect(found).toEqual({
      users: [
        {
          id: made[7]?.id,
          displayName: 'Person person7',
          email: 'person7@directory.example',
          status: 'active',
          roles: ['member'],
          createdAt: expect.any(String) as unknown,
        },
      ],
    });
    expect((await lookUp('?email=ghost%40directory.example')).json()).toEqual({ users: [] });
    for (const mixed of [
      await lookUp('?email=person7%40directory.example&status=active'),
      await lookUp(''),
      await list('?email=person7%40directory.example'),
    ]) {
      expect(mixed.status).toBe(400);
      expect(errorCode(mixed)).toBe('validation_failed');
    }
  });

  it('validates the limit and the filters', async () => {
    for (const query of [
      '?limit=0',
      '?limit=101',
      '?limit=ten',
      '?status=sleeping',
      '?role=Bad-Role',
      '?page=2',
    ]) {
      const response = await list(query);
      expect({ query, status: response.status, code: errorCode(response) }).toEqual({
        query,
        status: 400,
        code: 'validation_failed',
      });
    }
    expect((await list('?limit=100')).status).toBe(200);
  });

  it('never lists or finds another tenant’s users, from either side', async () => {
    const mine = (await list('?limit=100')).json<Page>().users.map((user) => user.id);
    expect(mine.some((id) => otherIds.includes(id) || id === other.userId)).toBe(false);
    const theirs = (await list('?limit=100', other.accessToken)).json<Page>().users.map((user) => user.id);
    expect(theirs.sort()).toEqual([other.userId, ...otherIds].sort());
    expect((await lookUp('?email=stranger0%40elsewhere.example')).json()).toEqual({ users: [] });
  });

  it('refuses a made-up, mangled, foreign or re-filtered cursor with invalid_cursor', async () => {
    const first = (await list('?limit=7')).json<Page>();
    const cursor = first.nextCursor ?? '';
    expect(cursor).not.toBe('');
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [
      number,
      string,
      string,
    ];
    const forged = (parts: unknown) => Buffer.from(JSON.stringify(parts)).toString('base64url');
    const foreign = (await list('?limit=1', other.accessToken)).json<Page>().nextCursor ?? '';
    expect(foreign).not.toBe('');
    const refused = {
      garbage: 'not-a-cursor',
      'not JSON': Buffer.from('{{{').toString('base64url'),
      'an offset': forged(7),
      'without its binding': forged([at, id]),
      'with a forged binding': forged([at, id, 'AAAAAAAAAAAAAAAA']),
      'a position that is not a user id': forged([at, "' OR 1=1 --", 'x']),
      'a time that is not a number': forged(['yesterday', id, 'x']),
      truncated: cursor.slice(0, -3),
      'another tenant’s': foreign,
    };
    for (const [kind, bad] of Object.entries(refused)) {
      const response = await list(`?limit=7&cursor=${encodeURIComponent(bad)}`);
      expect({ kind, status: response.status, code: errorCode(response) }).toEqual({
        kind,
        status: 400,
        code: 'invalid_cursor',
      });
    }
    // A cursor is good for the filters it was given with only.
    const filtered = await list(`?limit=7&role=member&cursor=${encodeURIComponent(cursor)}`);
    expect(errorCode(filtered)).toBe('invalid_cursor');
    // And the cursor of the other tenant is refused there as well as here: it is theirs, with their filters.
    const back = await list(`?limit=7&cursor=${encodeURIComponent(cursor)}`, other.accessToken);
    expect(errorCode(back)).toBe('invalid_cursor');
    // The genuine one still works.
    expect((await list(`?limit=7&cursor=${encodeURIComponent(cursor)}`)).status).toBe(200);
  });

  it('lists the directory to administrators, compliance officers and support agents, never to a member', async () => {
    // A member may ask for an admin-scoped token; the member role still lacks users.list.
    const member = await signIn(
      server,
      owner.tenantId,
      'person1@directory.example',
      memberPassword,
      'profile admin',
    );
    const asMember = await list('', member.accessToken);
    expect(asMember.status).toBe(403);
    expect(errorCode(asMember)).toBe('forbidden');
    expect(asMember.text).not.toContain('directory.example');
    // Finding one colleague by exact address is what chat needs, and stays.
    const found = await lookUp('?email=person2%40directory.example', member.accessToken);
    expect(found.json<Page>().users.map((user) => user.id)).toEqual([made[2]?.id]);

    const agent = await signIn(
      server,
      owner.tenantId,
      'person0@directory.example',
      memberPassword,
      'profile admin',
    );
    expect((await list('?limit=1', agent.accessToken)).status).toBe(200);
    await createUser(owner, 'officer@directory.example', 'compliance_officer');
    const officer = await signIn(
      server,
      owner.tenantId,
      'officer@directory.example',
      memberPassword,
      'profile admin',
    );
    expect((await list('?limit=1', officer.accessToken)).status).toBe(200);
  });

  it('refuses a guest (no users.read) and a token without the admin scope', async () => {
    const guestEmail = 'guest@directory.example';
    await createUser(owner, guestEmail, 'guest');
    const guest = await signIn(server, owner.tenantId, guestEmail, memberPassword, 'profile admin');
    const asGuest = await list('', guest.accessToken);
    expect(asGuest.status).toBe(403);
    expect(errorCode(asGuest)).toBe('forbidden');
    expect((await lookUp('?email=person1%40directory.example', guest.accessToken)).status).toBe(403);

    // The owner holds users.read, but this token was not granted the admin scope.
    const narrow = await signIn(server, owner.tenantId, owner.email, ownerPassword, 'profile chat');
    const unscoped = await list('', narrow.accessToken);
    expect(unscoped.status).toBe(403);
    expect(errorCode(unscoped)).toBe('insufficient_scope');
    expect((await server.request('/v1/tenant/users')).status).toBe(401);
    expect((await server.request('/v1/users?email=person1%40directory.example')).status).toBe(401);
  });
});
