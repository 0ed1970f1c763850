import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.ts';
import { hashToken } from '../../src/crypto/token.ts';
import { describeEachDialect } from '../support/dialects.ts';
import {
  bearer,
  json,
  newTenantOwner,
  ownerPassword,
  type SignedIn,
  signIn,
} from '../support/identity-fixtures.ts';
import { type ReceivedMail, type SmtpSink, startSmtpSink } from '../support/smtp-sink.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Attacks: someone types a victim's address into the reset form to learn whether it has an account; reuses
 * a reset link, or an old one found in a mailbox later; holds a stolen session while the victim resets;
 * reads the user_tokens table to lift a live reset token; floods a victim's inbox through the public form.
 * Mail goes to a real SMTP server in-process and is read back from it.
 */

class MovableClock implements Clock {
  #now = Date.now();
  now(): number {
    return this.#now;
  }
  advanceMinutes(minutes: number): void {
    this.#now += minutes * 60_000;
  }
}

const newPassword = 'violet lanterns drift over the quiet bay';
const RESET_SUBJECT = /^Reset your Parley password$/;

function tokenIn(mail: ReceivedMail | undefined, prefix: 'parley_pr_' | 'parley_ev_'): string {
  const token = new RegExp(`#token=(${prefix}[A-Za-z0-9_-]+)`).exec(mail?.text ?? '')?.[1];
  if (token === undefined) throw new Error(`no ${prefix} token in the mail`);
  return token;
}

describeEachDialect('password reset, address verification and notices over SMTP', (dialect) => {
  const clock = new MovableClock();
  let smtp: SmtpSink;
  let server: TestServer;
  let tenantCount = 0;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    server = await startTestServer({ dialect, clock, env: { PARLEY_SMTP_URL: smtp.url } });
  });

  afterAll(async () => {
    await server.close();
    await smtp.close();
  });

  /** Waits for every mail the server has started to send: they are then in the sink. */
  const settle = () => server.app.services.emailFlows.drain();

  beforeEach(async () => {
    await settle();
    smtp.clear();
  });

  async function freshOwner(): Promise<SignedIn> {
    const owner = await newTenantOwner(server, `Harbour Clinic ${++tenantCount}`);
    await settle();
    smtp.clear();
    return owner;
  }

  const requestReset = (tenantId: string, email: string, headers: Record<string, string> = {}) =>
    server.request(`/v1/tenants/${tenantId}/password-reset`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ email }),
    });

  const confirmReset = (token: string, password: string) =>
    server.request('/v1/password-reset/confirm', json({ token, newPassword: password }));

  async function mailedResetToken(owner: SignedIn): Promise<string> {
    expect((await requestReset(owner.tenantId, owner.email)).status).toBe(202);
    await settle();
    const mails = smtp.to(owner.email, RESET_SUBJECT);
    expect(mails).toHaveLength(1);
    return tokenIn(mails[0], 'parley_pr_');
  }

  it('mails a reset link to a known address, and answers an unknown address the same way with no mail', async () => {
    const owner = await freshOwner();
    const unknown = await requestReset(owner.tenantId, 'nobody@harbour.example');
    const noTenant = await requestReset('00000000-0000-7000-8000-000000000000', owner.email);
    const notATenant = await requestReset('not-a-tenant', owner.email);
    const known = await requestReset(owner.tenantId, owner.email);
    await settle();

    for (const response of [unknown, noTenant, notATenant, known]) {
      expect(response.status).toBe(202);
      expect(response.text).toBe(known.text);
    }
    expect(smtp.mails).toHaveLength(1);
    const [mail] = smtp.mails;
    expect(mail?.to).toEqual([owner.email]);
    expect(mail?.subject).toMatch(RESET_SUBJECT);
    expect(mail?.from).toContain('no-reply@localhost');
    expect(mail?.text).toContain(`${server.url}/reset-password#token=parley_pr_`);
  });

  it('answers a known address as fast as an unknown one (account enumeration by timing)', async () => {
    // Attack: an attacker times the public reset form to learn which addresses have accounts. If a known
    // address made the request wait for the token, the audit entry or the mail, it would answer later.
    // Requests alternate so that load from other processes falls on both series alike, each sample waits
    // for the background work of the one before, and the clock moves an hour per round so that every
    // known request does the full work (the per-address mail limit never kicks in). Compared are the lower
    // quartiles: other processes on the machine only ever add time, so the fast samples show the work itself.
    const owner = await freshOwner();
    const elapsed = async (email: string) => {
      await settle();
      const start = performance.now();
      const response = await requestReset(owner.tenantId, email);
      const took = performance.now() - start;
      expect(response.status).toBe(202);
      return took;
    };
    const lowerQuartile = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 4)] ?? Number.NaN;
    for (let warmUp = 0; warmUp < 3; warmUp += 1) {
      await elapsed(owner.email);
      await elapsed('nobody@harbour.example');
    }
    const known: number[] = [];
    const unknown: number[] = [];
    for (let round = 0; round < 32; round += 1) {
      clock.advanceMinutes(61);
      // Which goes first alternates, so that whatever the previous sample left behind falls on both.
      if (round % 2 === 0) known.push(await elapsed(owner.email));
      unknown.push(await elapsed(`nobody-${round}@harbour.example`));
      if (round % 2 === 1) known.push(await elapsed(owner.email));
    }
    await settle();
    expect(smtp.to(owner.email, RESET_SUBJECT).length).toBeGreaterThanOrEqual(32);
    const ratio = lowerQuartile(known) / lowerQuartile(unknown);
    expect(ratio).toBeGreaterThan(0.75);
    expect(ratio).toBeLessThan(1.25);
  });

  it('stores only the hash of a reset token', async () => {
    const owner = await freshOwner();
    const token = await mailedResetToken(owner);
    const rows = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .selectFrom('user_tokens')
        .selectAll()
        .where('tenant_id', '=', owner.tenantId)
        .where('purpose', '=', 'password_reset')
        .execute(),
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.token_hash).toBe(hashToken(token));
    expect(JSON.stringify(rows)).not.toContain(token.slice('parley_pr_'.length + 22));
  });

  it('resets the password once: old sessions die, the new password signs in, a second use is 410', async () => {
    const owner = await freshOwner();
    const token = await mailedResetToken(owner);

    expect((await confirmReset(token, newPassword)).status).toBe(204);

    expect((await server.request('/v1/me', bearer(owner.accessToken))).status).toBe(401);
    await expect(signIn(server, owner.tenantId, owner.email, ownerPassword)).rejects.toThrow(/400/);
    const fresh = await signIn(server, owner.tenantId, owner.email, newPassword);
    expect((await server.request('/v1/me', bearer(fresh.accessToken))).status).toBe(200);

    const replay = await confirmReset(token, 'another long passphrase for the replay');
    expect(replay.status).toBe(410);
    expect(replay.json<{ error: { code: string } }>().error.code).toBe('gone');
  });

  it('lets only one of two simultaneous uses of a reset link through', async () => {
    const owner = await freshOwner();
    const token = await mailedResetToken(owner);
    const statuses = (
      await Promise.all([
        confirmReset(token, newPassword),
        confirmReset(token, 'a rival passphrase racing the first'),
      ])
    ).map((response) => response.status);
    expect(statuses.sort()).toEqual([204, 410]);
  });

  it('refuses an expired reset link with 410', async () => {
    const owner = await freshOwner();
    const token = await mailedResetToken(owner);
    clock.advanceMinutes(31);
    expect((await confirmReset(token, newPassword)).status).toBe(410);
  });

  it('refuses a token it never issued with 401', async () => {
    const owner = await freshOwner();
    const token = await mailedResetToken(owner);
    const forged = `${token.slice(0, -4)}AAAA`;
    expect((await confirmReset(forged, newPassword)).status).toBe(401);
    expect((await confirmReset('parley_pr_short', newPassword)).status).toBe(401);
    expect((await confirmReset(token.replace('parley_pr_', 'parley_ev_'), newPassword)).status).toBe(401);
  });

  it('refuses a weak new password naming the rule, and keeps the link usable', async () => {
    const owner = await freshOwner();
    const token = await mailedResetToken(owner);
    const weak = await confirmReset(token, 'password123');
    expect(weak.status).toBe(400);
    expect(weak.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'password_policy',
      message: expect.stringContaining('common_password'),
    });
    const reused = await confirmReset(token, ownerPassword);
    expect(reused.text).toContain('reused_password');
    expect((await confirmReset(token, newPassword)).status).toBe(204);
  });

  it('retires older reset links once one was used', async () => {
    const owner = await freshOwner();
    const older = await mailedResetToken(owner);
    smtp.clear();
    const newer = await mailedResetToken(owner);
    expect((await confirmReset(newer, newPassword)).status).toBe(204);
    expect((await confirmReset(older, 'yet another long passphrase here')).status).toBe(410);
  });

  it('mails at most five reset links per account and hour, still answering 202', async () => {
    const owner = await freshOwner();
    for (let attempt = 0; attempt < 7; attempt += 1)
      expect((await requestReset(owner.tenantId, owner.email)).status).toBe(202);
    await settle();
    expect(smtp.to(owner.email, RESET_SUBJECT)).toHaveLength(5);
  });

  it('sends a password-changed notice after a reset and after a change', async () => {
    const owner = await freshOwner();
    const token = await mailedResetToken(owner);
    expect((await confirmReset(token, newPassword)).status).toBe(204);
    await settle();
    expect(smtp.to(owner.email, /^Your Parley password was changed$/)).toHaveLength(1);

    const session = await signIn(server, owner.tenantId, owner.email, newPassword);
    const change = await server.request(
      '/v1/me/password',
      json(
        { currentPassword: newPassword, newPassword: 'a third passphrase, long enough' },
        session.accessToken,
        'PUT',
      ),
    );
    expect(change.status).toBe(204);
    await settle();
    expect(smtp.to(owner.email, /^Your Parley password was changed$/)).toHaveLength(2);
  });

  it('sends a new sign-in notice naming the address the sign-in came from', async () => {
    const owner = await freshOwner();
    await signIn(server, owner.tenantId, owner.email, ownerPassword);
    await settle();
    const notices = smtp.to(owner.email, /^New sign-in to your Parley account$/);
    expect(notices).toHaveLength(1);
    expect(notices[0]?.text).toContain('127.0.0.1');
  });

  it('confirms the e-mail address with a mailed single-use link', async () => {
    const owner = await freshOwner();
    const me = () => server.request('/v1/me', bearer(owner.accessToken));
    expect((await me()).json<{ emailVerified: boolean }>().emailVerified).toBe(false);

    const sent = await server.request('/v1/me/email/verification', bearer(owner.accessToken, 'POST'));
    expect(sent.status).toBe(202);
    await settle();
    const mails = smtp.to(owner.email, /^Confirm your e-mail address/);
    expect(mails).toHaveLength(1);
    const token = tokenIn(mails[0], 'parley_ev_');

    expect((await server.request('/v1/email/verify', json({ token }))).status).toBe(204);
    expect((await me()).json<{ emailVerified: boolean }>().emailVerified).toBe(true);
    expect((await server.request('/v1/email/verify', json({ token }))).status).toBe(410);
    const again = await server.request('/v1/me/email/verification', bearer(owner.accessToken, 'POST'));
    expect(again.status).toBe(409);
  });
});

describeEachDialect('the embedded outbox (no SMTP relay)', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;

  beforeAll(async () => {
    server = await startTestServer({ dialect, env: { PARLEY_PUBLIC_URL: 'https://chat.harbour.example/' } });
    owner = await newTenantOwner(server, 'Outbox Harbour');
  });

  afterAll(async () => {
    await server.close();
  });

  interface OutboxBody {
    messages: { id: string; to: string; subject: string; text: string; kind: string; createdAt: string }[];
  }

  it('keeps mail sealed in mail_outbox, with no plaintext address, subject or link', async () => {
    const response = await server.request(
      `/v1/tenants/${owner.tenantId}/password-reset`,
      // A forged forwarded host (believed from loopback) must not steer the link: reset poisoning.
      {
        ...json({ email: owner.email }),
        headers: { 'content-type': 'application/json', 'x-forwarded-host': 'evil.example' },
      },
    );
    expect(response.status).toBe(202);
    await server.app.services.emailFlows.drain();
    const rows = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .selectFrom('mail_outbox')
        .selectAll()
        .where('tenant_id', '=', owner.tenantId)
        .where('kind', '=', 'password_reset')
        .execute(),
    );
    expect(rows).toHaveLength(1);
    const raw = JSON.stringify(rows);
    for (const plaintext of [owner.email, 'Reset your Parley password', 'parley_pr_', 'reset-password'])
      expect(raw).not.toContain(plaintext);
    for (const row of rows)
      for (const sealed of [row.recipient, row.subject, row.body]) expect(sealed).toMatch(/^pf1\.t\d+\./);
  });

  it('lets the owner read the outbox, and the link in it works', async () => {
    const response = await server.request('/v1/admin/outbox', bearer(owner.accessToken));
    expect(response.status).toBe(200);
    const reset = response.json<OutboxBody>().messages.find((message) => message.kind === 'password_reset');
    expect(reset).toMatchObject({ to: owner.email, subject: 'Reset your Parley password' });
    expect(reset?.text).toContain('https://chat.harbour.example/reset-password#token=parley_pr_');
    expect(reset?.text).not.toContain('evil.example');
    const token = /#token=(parley_pr_[A-Za-z0-9_-]+)/.exec(reset?.text ?? '')?.[1] ?? '';
    const confirmed = await server.request('/v1/password-reset/confirm', json({ token, newPassword }));
    expect(confirmed.status).toBe(204);
    await server.app.services.emailFlows.drain();
    const after = await server.request(
      '/v1/admin/outbox',
      bearer((await signIn(server, owner.tenantId, owner.email, newPassword, 'profile admin')).accessToken),
    );
    const kinds = after.json<OutboxBody>().messages.map((message) => message.kind);
    expect(kinds).toEqual(expect.arrayContaining(['password_reset', 'password_changed', 'new_sign_in']));
  });

  it('refuses the outbox to a member and to an admin (it holds the owner’s reset links)', async () => {
    const fresh = await signIn(server, owner.tenantId, owner.email, newPassword, 'profile admin');
    for (const role of ['member', 'admin']) {
      const email = `${role}@outbox.example`;
      const password = 'gulls circling the lighthouse at dawn';
      const created = await server.request(
        '/v1/users',
        json({ displayName: `A ${role}`, email, password, roles: [role] }, fresh.accessToken),
      );
      expect(created.status, created.text).toBe(201);
      const session = await signIn(server, owner.tenantId, email, password, 'profile admin');
      const response = await server.request('/v1/admin/outbox', bearer(session.accessToken));
      expect(response.status, role).toBe(403);
      expect(response.json<{ error: { code: string } }>().error.code).toBe('forbidden');
    }
  });
});
