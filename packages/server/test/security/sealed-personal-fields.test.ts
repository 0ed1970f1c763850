import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sealLegacyPlaintext } from '../../src/crypto/plaintext-sealer.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { ManualClock, newStaff, type SignedInStaff, staffPassword } from '../support/staff-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

const DAY = 24 * 3600_000;

/**
 * Attack: a stolen disk or database dump, read without the master key. The four columns that used to hold
 * plain text — a user's avatar URL, a support grant's reason, an operator staff member's e-mail address and a
 * law-enforcement request's review notes — must show none of what was written, while the APIs still answer
 * it to those allowed to see it (and staff still sign in by e-mail). Values stored before migration 0035 are
 * sealed at start-up.
 */
describeEachDialect('sealed avatar, grant reason, staff e-mail and review notes', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock();
  let owner: SignedIn;
  let support: SignedInStaff;
  let officer: SignedInStaff;
  const canary = {
    avatar: 'https://cdn.example/avatars/canary-avatar-7f3e9.png',
    reason: 'Canary reason 5b1d: ticket of Henrietta Vogelsang',
    staffEmail: 'canary-staff-91c2@operator.example',
    notes: 'Canary notes 44e0: order signed by Judge Ambrosius Kettle',
  };

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
    owner = await newTenantOwner(server, 'Sealed Fields Ltd');
    support = await newStaff(server, 'support', clock, canary.staffEmail);
    officer = await newStaff(server, 'security_officer', clock);
  });
  afterAll(async () => {
    await server.close();
  });

  /** Every row of the four tables as the database returns its text, without any key. */
  async function rowText(): Promise<string> {
    const tables = ['users', 'support_grants', 'staff_accounts', 'legal_requests'];
    const rows = [];
    for (const table of tables)
      rows.push(
        ...(await server.app.storage.kysely
          .selectFrom(table as 'users')
          .selectAll()
          .execute()),
      );
    if (dialect === 'postgres') {
      for (const table of tables) {
        const result = await sql<{ row: string }>`select t::text as row from ${sql.table(table)} t`.execute(
          server.app.storage.kysely,
        );
        rows.push(...result.rows.map((entry) => entry.row));
      }
    }
    return JSON.stringify(rows);
  }

  /** SQLite: every byte SQLite put on disk (database file and write-ahead log). */
  function sqliteBytes(): Buffer {
    const dir = server.database.dataDir;
    const files = readdirSync(dir).filter((name) => name.startsWith('parley.db'));
    expect(files).toContain('parley.db');
    return Buffer.concat(files.map((name) => readFileSync(path.join(dir, name))));
  }

  const registerAndReview = async (notes: string) => {
    const created = await server.request(
      '/v1/platform/legal-requests',
      json(
        {
          authority: 'Metropolitan Police',
          legalBasis: 'Investigatory Powers Act 2016, s. 61',
          orderReference: `ORD-${Math.random().toString(36).slice(2, 8)}`,
          scope: 'Account data of one user',
          tenantId: owner.tenantId,
          receivedAt: new Date(clock.now()).toISOString(),
          deadlineAt: new Date(clock.now() + 10 * DAY).toISOString(),
        },
        officer.accessToken,
      ),
    );
    expect(created.status, created.text).toBe(201);
    const id = created.json<{ id: string }>().id;
    const reviewed = await server.request(
      `/v1/platform/legal-requests/${id}/review`,
      json({ valid: true, binding: true, decision: 'approve', notes }, officer.accessToken),
    );
    expect(reviewed.status, reviewed.text).toBe(200);
    expect(reviewed.json()).toMatchObject({ reviewNotes: notes });
    return id;
  };

  it('answers every canary through the API while the raw database holds none of them', async () => {
    const patched = await server.request(
      '/v1/me',
      json({ avatarUrl: canary.avatar }, owner.accessToken, 'PATCH'),
    );
    expect(patched.status, patched.text).toBe(200);
    expect((await server.request('/v1/me', bearer(owner.accessToken))).json()).toMatchObject({
      avatarUrl: canary.avatar,
    });

    const asked = await server.request(
      '/v1/platform/support-grants',
      json(
        { tenantId: owner.tenantId, reason: canary.reason, scope: 'metadata', durationHours: 2 },
        support.accessToken,
      ),
    );
    expect(asked.status, asked.text).toBe(201);
    expect(asked.json()).toMatchObject({ reason: canary.reason });
    const grantId = asked.json<{ id: string }>().id;
    const tenantView = await server.request('/v1/support-grants', bearer(owner.accessToken));
    expect(tenantView.status, tenantView.text).toBe(200);
    expect(tenantView.json<{ grants: { id: string; reason: string }[] }>().grants).toContainEqual(
      expect.objectContaining({ id: grantId, reason: canary.reason }),
    );
    const staffView = await server.request('/v1/platform/support-grants', bearer(support.accessToken));
    expect(staffView.status, staffView.text).toBe(200);
    expect(staffView.json<{ grants: { id: string; reason: string }[] }>().grants).toContainEqual(
      expect.objectContaining({ id: grantId, reason: canary.reason }),
    );
    const approved = await server.request(
      `/v1/support-grants/${grantId}/approve`,
      json({}, owner.accessToken),
    );
    expect(approved.status, approved.text).toBe(200);
    expect(approved.json()).toMatchObject({ reason: canary.reason });

    const requestId = await registerAndReview(canary.notes);
    const register = await server.request('/v1/platform/legal-requests', bearer(officer.accessToken));
    expect(
      register.json<{ requests: { id: string; reviewNotes: string | null }[] }>().requests,
    ).toContainEqual(expect.objectContaining({ id: requestId, reviewNotes: canary.notes }));
    // The staff member's own address signs in, and the staff list shows it.
    clock.advance(30_000);
    const again = await server.request(
      '/v1/platform/sessions',
      json({
        email: canary.staffEmail.toUpperCase(),
        password: staffPassword,
        code: support.totp.generate({ timestamp: clock.now() }),
      }),
    );
    expect(again.status, again.text).toBe(201);
    expect(await server.app.services.staff.list()).toContainEqual(
      expect.objectContaining({ id: support.id, email: canary.staffEmail }),
    );

    const text = await rowText();
    expect(text).toContain(grantId); // the rows are really there
    for (const value of Object.values(canary)) {
      expect(text).not.toContain(value);
      expect(text).not.toContain(value.toLowerCase());
    }
    if (dialect === 'sqlite') {
      const bytes = sqliteBytes();
      expect(bytes.includes(owner.tenantId)).toBe(true);
      for (const value of Object.values(canary)) expect(bytes.includes(value)).toBe(false);
    }
  });

  it('binds each platform-sealed value to its row and column: a copied envelope does not open', async () => {
    const { fieldCipher } = server.app.security;
    const row = await server.app.storage.kysely
      .selectFrom('staff_accounts')
      .select(['id', 'email'])
      .where('id', '=', support.id)
      .executeTakeFirstOrThrow();
    await server.app.storage.withSystem(async (tx) => {
      const at = { table: 'staff_accounts', column: 'email', rowId: support.id };
      expect(await fieldCipher.openForPlatform(tx, at, row.email)).toBe(canary.staffEmail);
      // Moved to another staff member's row, or to another column: refused.
      await expect(
        fieldCipher.openForPlatform(tx, { ...at, rowId: officer.id }, row.email),
      ).rejects.toThrow();
      await expect(
        fieldCipher.openForPlatform(
          tx,
          { ...at, table: 'legal_requests', column: 'review_notes' },
          row.email,
        ),
      ).rejects.toThrow();
    });
    // A platform envelope is no tenant's: the tenant path refuses it.
    await server.app.storage.withTenant(owner.tenantId, async (tx) => {
      await expect(
        fieldCipher.open(
          tx,
          { tenantId: owner.tenantId, table: 'staff_accounts', column: 'email', rowId: support.id },
          row.email,
        ),
      ).rejects.toThrow();
    });
  });

  it('refuses a second staff account with the same address, whatever its case', async () => {
    await expect(
      server.app.services.staff.create({ email: ` ${canary.staffEmail.toUpperCase()} `, role: 'support' }),
    ).rejects.toMatchObject({ code: 'conflict' });
  });

  it('seals values stored in the clear before migration 0035 at start-up, and they still read back', async () => {
    const legacy = {
      avatar: 'https://cdn.example/avatars/legacy-avatar-0c4d.png',
      reason: 'Legacy reason 8a2f, written in the clear',
      staffEmail: 'legacy-officer-3b7a@operator.example',
      notes: 'Legacy notes 6d19, written in the clear',
    };
    const db = server.app.storage.kysely;
    const staffMember = await newStaff(server, 'security_officer', clock);
    const requestId = await registerAndReview('to be overwritten');
    const grant = await server.request(
      '/v1/platform/support-grants',
      json(
        { tenantId: owner.tenantId, reason: 'to be overwritten', scope: 'metadata', durationHours: 1 },
        support.accessToken,
      ),
    );
    const grantId = grant.json<{ id: string }>().id;
    // What an installation before 0035 holds: plain text, and no blind index for the staff address.
    await db.updateTable('users').set({ avatar_url: legacy.avatar }).where('id', '=', owner.userId).execute();
    await db.updateTable('support_grants').set({ reason: legacy.reason }).where('id', '=', grantId).execute();
    await db
      .updateTable('staff_accounts')
      .set({ email: legacy.staffEmail, email_index: null })
      .where('id', '=', staffMember.id)
      .execute();
    await db
      .updateTable('legal_requests')
      .set({ review_notes: legacy.notes })
      .where('id', '=', requestId)
      .execute();
    expect(await rowText()).toContain(legacy.reason);

    const sealed = await sealLegacyPlaintext(
      server.app.storage,
      server.app.security.fieldCipher,
      server.app.security.blindIndex,
    );
    expect(sealed).toEqual({ avatars: 1, grantReasons: 1, staffEmails: 1, reviewNotes: 1 });
    const text = await rowText();
    for (const value of Object.values(legacy)) expect(text).not.toContain(value);
    // A second pass finds nothing left to seal.
    expect(
      await sealLegacyPlaintext(
        server.app.storage,
        server.app.security.fieldCipher,
        server.app.security.blindIndex,
      ),
    ).toEqual({ avatars: 0, grantReasons: 0, staffEmails: 0, reviewNotes: 0 });

    expect((await server.request('/v1/me', bearer(owner.accessToken))).json()).toMatchObject({
      avatarUrl: legacy.avatar,
    });
    const tenantView = await server.request('/v1/support-grants', bearer(owner.accessToken));
    expect(tenantView.json<{ grants: { id: string; reason: string }[] }>().grants).toContainEqual(
      expect.objectContaining({ id: grantId, reason: legacy.reason }),
    );
    const register = await server.request('/v1/platform/legal-requests', bearer(officer.accessToken));
    expect(
      register.json<{ requests: { id: string; reviewNotes: string | null }[] }>().requests,
    ).toContainEqual(expect.objectContaining({ id: requestId, reviewNotes: legacy.notes }));
    clock.advance(30_000);
    const signedIn = await server.request(
      '/v1/platform/sessions',
      json({
        email: legacy.staffEmail,
        password: staffPassword,
        code: staffMember.totp.generate({ timestamp: clock.now() }),
      }),
    );
    expect(signedIn.status, signedIn.text).toBe(201);
  });

  it('keeps staff sign-in and sealed notes readable across a master key rotation', async () => {
    const { version } = await server.app.security.keyring.rotateMaster();
    clock.advance(30_000);
    const signedIn = await server.request(
      '/v1/platform/sessions',
      json({
        email: canary.staffEmail,
        password: staffPassword,
        code: support.totp.generate({ timestamp: clock.now() }),
      }),
    );
    expect(signedIn.status, signedIn.text).toBe(201);
    const register = await server.request('/v1/platform/legal-requests', bearer(officer.accessToken));
    expect(JSON.stringify(register.json())).toContain(canary.notes);
    const keys = await server.app.storage.kysely.selectFrom('platform_keys').selectAll().execute();
    expect(keys.map((key) => key.purpose).sort()).toEqual(['data', 'index']);
    expect(keys.map((key) => key.master_version)).toEqual([version, version]);
  });
});
