import type { NodeCluster } from './node-cluster.ts';

const password = 'seven lanterns over a quiet harbour';

/** A tenant whose members all share one group dialog; every member's access token outlives the test. */
export interface FailoverTenant {
  tenantId: string;
  dialogId: string;
  /** The owner's token first, then one per member. */
  tokens: string[];
}

async function signIn(cluster: NodeCluster, tenantId: string, email: string): Promise<string> {
  const answer = await cluster.call<{ access_token: string; parley_notice?: string }>('/oauth/token', {
    body: {
      grant_type: 'password',
      tenant_id: tenantId,
      username: email,
      password,
      scope: 'profile chat admin',
    },
    form: true,
  });
  // A member made by an admin accepts the required purposes at the first sign-in, as any client does.
  if (answer.parley_notice === 'consent_required') {
    const listed = await cluster.call<{
      consents: { purpose: { key: string; version: number; required: boolean }; state: string }[];
    }>('/v1/me/consents', { token: answer.access_token });
    for (const { purpose } of listed.consents.filter(
      (entry) => entry.purpose.required && entry.state !== 'granted',
    ))
      await cluster.call(`/v1/me/consents/${purpose.key}`, {
        body: { version: purpose.version },
        token: answer.access_token,
        method: 'PUT',
      });
  }
  return answer.access_token;
}

/** A tenant made with the CLI, claimed over REST, with `members` more users in one group dialog. */
export async function newFailoverTenant(cluster: NodeCluster, members: number): Promise<FailoverTenant> {
  const created = await cluster.cli(['tenant', 'create', '--name', 'Failover Drill Clinic']);
  if (created.code !== 0) throw new Error(`tenant create: ${created.stderr}`);
  const tenant = JSON.parse(created.stdout) as { tenantId: string; ownerSetupToken: string };
  const purposes = await cluster.call<{ purposes: { key: string; version: number; required: boolean }[] }>(
    `/v1/tenants/${tenant.tenantId}/consent-purposes`,
  );
  await cluster.call(`/v1/tenants/${tenant.tenantId}/setup`, {
    body: {
      setupToken: tenant.ownerSetupToken,
      displayName: 'Olga Owner',
      email: 'owner@failover.example',
      password,
      acceptedPurposes: purposes.purposes
        .filter((purpose) => purpose.required)
        .map(({ key, version }) => ({ key, version })),
    },
  });
  const ownerToken = await signIn(cluster, tenant.tenantId, 'owner@failover.example');
  const tokens = [ownerToken];
  const memberIds: string[] = [];
  for (let n = 1; n <= members; n += 1) {
    const email = `member-${n}@failover.example`;
    const { userId } = await cluster.call<{ userId: string }>('/v1/users', {
      body: { displayName: `Member ${n}`, email, password, roles: ['member'] },
      token: ownerToken,
    });
    memberIds.push(userId);
    tokens.push(await signIn(cluster, tenant.tenantId, email));
  }
  const dialog = await cluster.call<{ id: string }>('/v1/dialogs', {
    body: { type: 'group', name: 'Drill', memberIds },
    token: ownerToken,
  });
  return { tenantId: tenant.tenantId, dialogId: dialog.id, tokens };
}

/** One message as the database holds it (the dialog's history over REST). */
export interface StoredMessage {
  seq: number;
  id: string;
  clientId: string | null;
}

/** The dialog's whole history, oldest first, read over REST from a live node. */
export async function dialogHistory(cluster: NodeCluster, tenant: FailoverTenant): Promise<StoredMessage[]> {
  const all: StoredMessage[] = [];
  for (let after = 0; ;) {
    const page = await cluster.call<{ messages: StoredMessage[] }>(
      `/v1/dialogs/${tenant.dialogId}/messages?after=${after}&limit=200`,
      { token: tenant.tokens[0] },
    );
    all.push(...page.messages.map(({ seq, id, clientId }) => ({ seq, id, clientId })));
    const last = page.messages.at(-1);
    if (!last) return all;
    after = last.seq;
  }
}
