import type { ComplianceControl, SignedComplianceReport } from '@parley/protocol';
import { sql } from 'kysely';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recordBackupAttempt, recordBackupVerify } from '../../src/backup/backup-state.ts';
import { canonicalJson } from '../../src/compliance/audit/audit-entry.ts';
import { controlDefinitions, signedJsonInHtml } from '../../src/compliance/evidence-report/index.ts';
import { systemClock } from '../../src/clock.ts';
import { createKeyManagement } from '../../src/crypto/key-management.ts';
import type { TenantTx } from '../../src/storage/database.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * The compliance evidence report (issue 17 point 5) over the API: live state changed, the matching control
 * changes. Attacks tried: a member or a token without the audit scope asking (403); another tenant's ids
 * looked for in the report (never there); a signed copy altered, extended, or re-signed with a key of the
 * attacker's own (each refused by the verification); a tenant name that is HTML (escaped, no script).
 */
const hostileName = '<script>alert("x")</script> & Clinic';
const password = 'plum tree under the winter moon';

describeEachDialect('compliance evidence report', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let other: SignedIn;
  let officer: { accessToken: string; userId: string };
  let member: { accessToken: string; userId: string };

  beforeAll(async () => {
    server = await startTestServer({ dialect, env: { PARLEY_REENCRYPT_INTERVAL_SECONDS: '86400' } });
    owner = await newTenantOwner(server, hostileName);
    other = await newTenantOwner(server, 'Other Clinic');
    const person = async (role: string, email: string) => {
      const created = await server.request(
        '/v1/users',
        json({ displayName: role, email, password, roles: [role] }, owner.accessToken),
      );
      expect(created.status, created.text).toBe(201);
      const { accessToken } = await signIn(server, owner.tenantId, email, password, 'profile audit');
      return { accessToken, userId: created.json<{ userId: string }>().userId };
    };
    officer = await person('compliance_officer', 'officer@evidence.example');
    member = await person('member', 'member@evidence.example');
  });
  afterAll(async () => {
    await server.close();
  });

  const report = async (token = officer.accessToken) => {
    const response = await server.request('/v1/compliance/report?format=json', bearer(token));
    expect(response.status, response.text).toBe(200);
    return response.json<SignedComplianceReport>();
  };
  const control = (signed: SignedComplianceReport, id: string): ComplianceControl => {
    const found = signed.report.controls.find((candidate) => candidate.id === id);
    if (!found) throw new Error(`no control ${id}`);
    return found;
  };
  const check = async (copy: unknown) => {
    const response = await server.request(
      '/v1/compliance/report/verification',
      json(copy, officer.accessToken),
    );
    expect(response.status, response.text).toBe(200);
    return response.json<{ ok: boolean; reason?: string }>();
  };
  const setPolicy = async (passwordPolicy: Record<string, unknown>) => {
    const response = await server.request(
      '/v1/tenant/settings',
      json({ passwordPolicy }, owner.accessToken, 'PATCH'),
    );
    expect(response.status, response.text).toBe(200);
  };

  it('gives a compliance officer a signed report of every control, mapped to HIPAA and GDPR, about their own tenant only', async () => {
    const signed = await report();
    expect(signed.report.tenant).toEqual({ id: owner.tenantId, name: hostileName });
    expect(signed.report.controls.map((c) => c.id).sort()).toEqual(
      controlDefinitions.map((c) => c.id).sort(),
    );
    for (const entry of signed.report.controls) {
      expect(entry.hipaa.length + entry.gdpr.length).toBeGreaterThan(0);
      expect(['met', 'attention', 'not_met']).toContain(entry.status);
    }
    const text = JSON.stringify(signed);
    expect(text).not.toContain(other.tenantId);
    expect(text).not.toContain(other.userId);
    expect(text).not.toContain('Other Clinic');
    // Ids, never e-mail addresses.
    expect(text).not.toContain('@evidence.example');
    expect(control(signed, 'roles').evidence.roles).toMatchObject({
      owner: { holders: 1, holderIds: [owner.userId] },
      compliance_officer: { holders: 1 },
      member: { holders: 1 },
    });
    expect(await check(signed)).toMatchObject({ ok: true });
    const log = await server.request(
      '/v1/audit?action=compliance.report_issued',
      bearer(officer.accessToken),
    );
    expect(log.status, log.text).toBe(200);
    const { entries } = log.json<{ entries: { target: { id: string } | null }[] }>();
    expect(entries.map((entry) => entry.target?.id)).toContain(signed.report.reportId);
  });

  it('reports encryption at rest met: no personal column of a sensitive category is stored as is', async () => {
    const atRest = control(await report(), 'encryption_at_rest');
    expect(atRest.evidence.sensitiveColumnsStoredAsIs).toEqual([]);
    expect(atRest.status).toBe('met');
    expect(atRest.evidence.byProtection).toMatchObject({
      'platform field key': 2,
      'platform index key': 1,
    });
  });

  it('is refused to a member and to a token without the audit scope', async () => {
    const asMember = await server.request('/v1/compliance/report', bearer(member.accessToken));
    expect(asMember.status).toBe(403);
    const narrow = await signIn(
      server,
      owner.tenantId,
      'officer@evidence.example',
      password,
      'profile admin',
    );
    expect((await server.request('/v1/compliance/report', bearer(narrow.accessToken))).status).toBe(403);
    const verifyAsMember = await server.request(
      '/v1/compliance/report/verification',
      json({}, member.accessToken),
    );
    expect(verifyAsMember.status).toBe(403);
  });

  it('follows MFA enforcement and enrolment: off → not met, required but not enrolled → attention, enrolled → met', async () => {
    await setPolicy({ mfaRequiredRoles: [] });
    const off = control(await report(), 'mfa');
    expect(off.status).toBe('not_met');
    expect(off.findings.join(' ')).toContain('owner');

    await setPolicy({ mfaRequiredRoles: ['owner', 'admin', 'compliance_officer'] });
    const required = control(await report(), 'mfa');
    expect(required.status).toBe('attention');
    expect(required.evidence.mfaRequiredRoles).toEqual(['owner', 'admin', 'compliance_officer']);

    await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .updateTable('users')
        .set({ totp_enabled_at: Date.now() })
        .where('tenant_id', '=', owner.tenantId)
        .where('id', 'in', [owner.userId, officer.userId])
        .execute(),
    );
    const enrolled = control(await report(), 'mfa');
    expect(enrolled.status, enrolled.findings.join(' ')).toBe('met');
    expect(enrolled.evidence).toMatchObject({ activeAccounts: 3, enrolledAccounts: 2 });

    await setPolicy({ mfaRequiredRoles: ['owner'] });
    expect(control(await report(), 'mfa').status).toBe('not_met');
  });

  it('turns the data subject request control not met while a request is past its deadline', async () => {
    const before = control(await report(), 'data_subject_requests');
    expect(before.status).toBe('met');
    const recorded = await server.request(
      '/v1/privacy/requests',
      json({ subjectId: member.userId, kind: 'access' }, owner.accessToken),
    );
    expect(recorded.status, recorded.text).toBe(201);
    const { id } = recorded.json<{ id: string }>();
    expect(control(await report(), 'data_subject_requests').status).toBe('met');
    await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .updateTable('data_subject_requests')
        .set({ received_at: Date.now() - 40 * 86_400_000, deadline_at: Date.now() - 10 * 86_400_000 })
        .where('tenant_id', '=', owner.tenantId)
        .where('id', '=', id)
        .execute(),
    );
    const overdue = control(await report(), 'data_subject_requests');
    expect(overdue.status).toBe('not_met');
    expect(overdue.evidence.overdue).toEqual([expect.objectContaining({ requestId: id, kind: 'access' })]);
    // The other tenant's report does not see it.
    expect(control(await report(other.accessToken), 'data_subject_requests').status).toBe('met');
  });

  it('refuses a copy that was altered, extended, or re-signed with a key that is not the installation’s', async () => {
    const signed = await report();
    const altered = structuredClone(signed);
    altered.report.overall = 'met';
    altered.report.controls = altered.report.controls.map((c) => ({ ...c, status: 'met', findings: [] }));
    expect(await check(altered)).toEqual({ ok: false, reason: 'signature_invalid' });

    const extended = structuredClone(signed) as SignedComplianceReport & { report: { note?: string } };
    extended.report.note = 'all good';
    expect(await check(extended)).toEqual({ ok: false, reason: 'signature_invalid' });

    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const forged = {
      ...altered,
      publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
      signature: sign(null, Buffer.from(canonicalJson(altered.report)), privateKey).toString('base64'),
    };
    expect(await check(forged)).toEqual({ ok: false, reason: 'key_not_trusted' });
    expect(await check({ report: 'nothing' })).toEqual({ ok: false, reason: 'malformed' });
    expect(await check(signed)).toMatchObject({ ok: true });
  });

  it('renders HTML that escapes a script-like tenant name, runs no script, and embeds the signed report', async () => {
    const response = await server.request('/v1/compliance/report?format=html', bearer(officer.accessToken));
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    const html = response.text;
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Clinic');
    expect(html).toContain("default-src 'none'");
    expect(html).toContain('@media print');
    const embedded = JSON.parse(signedJsonInHtml(html) ?? 'null') as SignedComplianceReport;
    expect(embedded.report.tenant?.name).toBe(hostileName);
    expect(await check(embedded)).toMatchObject({ ok: true });
  });

  it('lays out each key (kind, purpose, version, age, rotation due) and follows a tenant data-key rotation until its re-wrap ends', async () => {
    const keys = () => control(signedNow, 'key_management');
    let signedNow = await report();
    expect(keys().evidence.rotationPeriodDays).toBe(server.app.config.keyRotationDays);
    expect(keys().evidence.tenantRotationPending).toBe(false);
    const listed = keys().evidence.keys as Record<string, unknown>[];
    expect(listed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'master', version: expect.any(Number), rotationOverdue: false }),
        expect.objectContaining({ kind: 'signing', keyId: expect.any(String) }),
        expect.objectContaining({ kind: 'tenant', purpose: 'data', version: 1, ageDays: 0 }),
        expect.objectContaining({ kind: 'tenant', purpose: 'index', version: 1 }),
      ]),
    );
    const data = listed.find((key) => key.purpose === 'data') as { createdAt: string; rotationDueAt: string };
    expect(Date.parse(data.rotationDueAt) - Date.parse(data.createdAt)).toBe(
      server.app.config.keyRotationDays * 86_400_000,
    );

    // The operator rotates this tenant's data key: version 2 in use, the re-wrap pending until it ran.
    // (A long PARLEY_REENCRYPT_INTERVAL_SECONDS keeps the server's own pass from running in between.)
    const management = createKeyManagement({
      storage: server.app.storage,
      keyring: server.app.security.keyring,
      clock: systemClock,
    });
    await management.rotateDataKey(owner.tenantId);
    signedNow = await report();
    expect(keys().evidence.tenantRotationPending).toBe(true);
    expect(keys().status).toBe('attention');
    expect(keys().findings).toContain('A data-key rotation still has user keys to re-wrap.');
    expect(keys().evidence.keys).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'tenant', purpose: 'data', version: 2 })]),
    );
    // The other tenant's keys and rotation are its own.
    const others = control(await report(other.accessToken), 'key_management');
    expect(others.evidence.tenantRotationPending).toBe(false);
    expect(others.evidence.keys).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'tenant', purpose: 'data', version: 1 })]),
    );
    await management.reencryptPending();
    signedNow = await report();
    expect(keys().evidence.tenantRotationPending).toBe(false);
    expect(keys().findings).not.toContain('A data-key rotation still has user keys to re-wrap.');
  });

  it('follows backups, restore drills and risk reviews as they are recorded', async () => {
    const { storage } = server.app;
    expect(control(await report(), 'backups').findings).toContain('No backup has succeeded yet.');
    await recordBackupAttempt(storage, {
      at: Date.now(),
      kind: 'full',
      errorCode: null,
      id: 'b1',
      bytes: 52_428_800,
    });
    const noDrill = control(await report(), 'backups');
    expect(noDrill.evidence).toMatchObject({
      lastOutcome: 'succeeded',
      lastErrorCode: null,
      lastSuccessBytes: 52_428_800,
      lastVerifyResult: null,
    });
    expect([noDrill.status, noDrill.findings]).toEqual([
      'attention',
      ['No restore drill recorded (run `parley backup verify`).'],
    ]);
    await recordBackupVerify(storage, { at: Date.now(), id: 'b1', ok: true });
    expect(control(await report(), 'backups').status).toBe('met');
    await recordBackupVerify(storage, { at: Date.now(), id: 'b1', ok: false });
    expect(control(await report(), 'backups').status).toBe('not_met');
    await recordBackupAttempt(storage, {
      at: Date.now(),
      kind: 'incremental',
      errorCode: 'backup_target_full',
      id: null,
    });
    expect(control(await report(), 'backups').evidence).toMatchObject({
      lastOutcome: 'failed',
      lastErrorCode: 'backup_target_full',
      lastSuccessBytes: 52_428_800,
      lastVerifyResult: 'failed',
    });

    const risk = (id: string, nextReviewAt: number) =>
      storage.withSystem((tx) =>
        tx
          .insertInto('risks')
          .values({
            id,
            asset: 'Message store',
            threat: 'Stolen disk',
            likelihood: 2,
            impact: 4,
            controls: 'Encryption at rest',
            owner: 'security officer',
            status: 'open',
            next_review_at: nextReviewAt,
            last_reviewed_at: null,
            created_at: Date.now(),
            updated_at: Date.now(),
          })
          .execute(),
      );
    await risk(randomUUID(), Date.now() + 86_400_000);
    expect(control(await report(), 'risk_reviews').status).toBe('met');
    const late = randomUUID();
    await risk(late, Date.now() - 86_400_000);
    const overdue = control(await report(), 'risk_reviews');
    expect(overdue.status).toBe('not_met');
    expect(overdue.evidence.overdueReviews).toEqual([expect.objectContaining({ riskId: late })]);
  });

  it('reports the audit control not met once the tenant’s chain was edited in the database', async () => {
    expect(control(await report(), 'audit_log').status).not.toBe('not_met');
    await server.app.storage.withSystem(async (tx) => {
      if (dialect === 'postgres')
        await sql`select set_config('app.tenant_id', ${owner.tenantId}, true)`.execute(tx);
      await (tx as unknown as TenantTx)
        .updateTable('audit_log')
        .set({ action: 'auth.logout' })
        .where('tenant_id', '=', owner.tenantId)
        .where('seq', '=', 2)
        .execute();
    });
    const broken = control(await report(), 'audit_log');
    expect(broken.status).toBe('not_met');
    expect(broken.evidence.chains).toEqual([
      expect.objectContaining({
        chain: owner.tenantId,
        result: 'broken',
        firstBad: { seq: 2, reason: 'hash mismatch' },
      }),
    ]);
    // A verification the officer asks for is recorded (audit.verified) and shown beside the live one.
    const verified = await server.request('/v1/audit/verification', bearer(officer.accessToken, 'POST'));
    expect(verified.status).toBe(200);
    expect(control(await report(), 'audit_log').evidence.chains).toEqual([
      expect.objectContaining({ lastRecordedVerification: expect.objectContaining({ result: 'broken' }) }),
    ]);
    // The other tenant's chain is intact and its report says so.
    const others = control(await report(other.accessToken), 'audit_log');
    expect(others.status).not.toBe('not_met');
  });
});
