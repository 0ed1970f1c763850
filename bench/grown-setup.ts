import { acceptOwedConsents, requiredPurposes } from './bench-consent.js';
import { eachLimited, GrownHttp } from './grown-http.js';
import type { ServerProcess } from './server-process.js';

/** Every grown user's password (the same for all, so signing in needs nothing kept but e-mail addresses). */
export const GROWN_PASSWORD = 'correct horse battery staple 2024';

/** Who exists in a grown database: everything but tokens, which are never cached. */
export interface GrownPeople {
  tenantId: string;
  /** users[0] is the tenant owner. */
  users: { userId: string; email: string }[];
  pairs: { dialogId: string; a: number; b: number }[];
  group: { dialogId: string; memberIndices: number[] } | undefined;
}

export interface PeopleShape {
  pairs: number;
  groupSize: number;
}

/** Users needed: two per pair (users 2i and 2i+1), and the group's members (users 0 … groupSize − 1). */
export const userCount = (shape: PeopleShape): number => Math.max(1, shape.pairs * 2, shape.groupSize);

const emailOf = (index: number) => (index === 0 ? 'owner@grown.example' : `member-${index}@grown.example`);

/**
 * The OAuth password grant, as a client signs in: owner with `admin`, members with what they need. A member
 * made by the owner accepts the required purposes at the first sign-in (then the grown database keeps that).
 */
export async function signIn(http: GrownHttp, tenantId: string, email: string, owner: boolean) {
  const tokens = await http.call<{ access_token: string; parley_notice?: string }>('/oauth/token', {
    form: {
      grant_type: 'password',
      tenant_id: tenantId,
      username: email,
      password: GROWN_PASSWORD,
      scope: owner ? 'profile chat admin' : 'profile chat',
    },
  });
  if (tokens.parley_notice === 'consent_required') await acceptOwedConsents(http, tokens.access_token);
  return tokens.access_token;
}

/** The owner and members as an operator and admin make them: `parley tenant create`, setup, `POST /v1/users`. */
async function createUsers(server: ServerProcess, http: GrownHttp, count: number) {
  const { tenantId, ownerSetupToken } = await server.createTenant('Grown Bench');
  const owner = { email: emailOf(0) };
  const { userId: ownerId } = await http.call<{ userId: string }>(`/v1/tenants/${tenantId}/setup`, {
    json: {
      setupToken: ownerSetupToken,
      displayName: 'Grown Owner',
      email: owner.email,
      password: GROWN_PASSWORD,
      acceptedPurposes: await requiredPurposes(http, tenantId),
    },
  });
  const ownerToken = await signIn(http, tenantId, owner.email, true);
  const members = await eachLimited(
    Array.from({ length: count - 1 }, (_, index) => index + 1),
    4,
    async (index) => {
      const email = emailOf(index);
      const { userId } = await http.call<{ userId: string }>('/v1/users', {
        token: ownerToken,
        json: { displayName: `Member ${index}`, email, password: GROWN_PASSWORD, roles: ['member'] },
      });
      return { userId, email };
    },
  );
  return { tenantId, ownerToken, users: [{ userId: ownerId, email: owner.email }, ...members] };
}

/**
 * A tenant with its users and dialogs, made over the real API of a running server: private dialogs between
 * users 2i and 2i+1 (each opened by 2i), and one group of users 0 … groupSize − 1 created by the owner.
 */
export async function setUpPeople(server: ServerProcess, shape: PeopleShape): Promise<GrownPeople> {
  const http = new GrownHttp(server.url, server.ca);
  try {
    const { tenantId, ownerToken, users } = await createUsers(server, http, userCount(shape));
    const userId = (index: number) => users[index]?.userId ?? '';
    const pairs = await eachLimited(
      Array.from({ length: shape.pairs }, (_, pair) => ({ a: pair * 2, b: pair * 2 + 1 })),
      4,
      async ({ a, b }) => {
        const token = a === 0 ? ownerToken : await signIn(http, tenantId, users[a]?.email ?? '', false);
        const { id } = await http.call<{ id: string }>('/v1/dialogs', {
          token,
          json: { type: 'private', memberIds: [userId(b)] },
        });
        return { dialogId: id, a, b };
      },
    );
    let group: GrownPeople['group'];
    if (shape.groupSize > 1) {
      const memberIndices = Array.from({ length: shape.groupSize }, (_, index) => index);
      const { id } = await http.call<{ id: string }>('/v1/dialogs', {
        token: ownerToken,
        json: { type: 'group', name: 'Grown Group', memberIds: memberIndices.slice(1).map(userId) },
      });
      group = { dialogId: id, memberIndices };
    }
    return { tenantId, users, pairs, group };
  } finally {
    await http.close();
  }
}
