import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../../support/dialects.ts';
import { json, newTenantOwner, type SignedIn } from '../../support/identity-fixtures.ts';
import { type SmtpSink, startSmtpSink } from '../../support/smtp-sink.ts';
import { ManualClock, newStaff, type SignedInStaff } from '../../support/staff-fixtures.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/**
 * Reminders reach people (issue 18, points 1 and 2): the incident clocks (controller notice target, GDPR 72 h,
 * HIPAA 60 days) and law-enforcement request deadlines are e-mailed to every active security officer through
 * the SMTP relay, once per reminder (not on every pass), naming the record by id, severity or status and
 * deadline — no title, description, authority, tenant or person.
 */
describeEachDialect('security officer reminders by e-mail', (dialect) => {
  let server: TestServer;
  let smtp: SmtpSink;
  const clock = new ManualClock();
  let officers: SignedInStaff[];
  let others: SignedInStaff[];
  let tenant: SignedIn;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    server = await startTestServer({ dialect, clock, env: { PARLEY_SMTP_URL: smtp.url } });
    // Only the direct calls below run the passes: the scheduler's own runs would race them.
    await server.app.jobs.stop(5_000);
    officers = [
      await newStaff(server, 'security_officer', clock),
      await newStaff(server, 'security_officer', clock),
    ];
    others = [await newStaff(server, 'support', clock), await newStaff(server, 'platform_admin', clock)];
    tenant = await newTenantOwner(server, 'Victim Ltd');
  });
  afterAll(async () => {
    await server.close();
    await smtp.close();
  });

  const officer = () => officers[0] as SignedInStaff;
  const post = (path: string, body: unknown) => server.request(path, json(body, officer().accessToken));
  /** Mails to each officer matching `subject`; every officer must have the same count. */
  const perOfficer = (subject: RegExp) => {
    const counts = officers.map((staff) => smtp.to(staff.email, subject).length);
    expect(new Set(counts).size, JSON.stringify(counts)).toBe(1);
    return counts[0] ?? 0;
  };
  const leaks = [
    'Payroll database exposed',
    'alice@victim.example',
    'Victim Ltd',
    'Metropolitan Police',
    'All messages of Alice',
  ];
  const expectNoPersonalData = () => {
    for (const mail of smtp.mails) {
      for (const leak of [...leaks, tenant.tenantId, tenant.userId, tenant.email])
        expect(`${mail.subject}\n${mail.text}`).not.toContain(leak);
    }
  };

  it('mails each incident clock reminder once to every security officer, and to nobody else', async () => {
    const opened = await post('/v1/platform/incidents', {
      title: 'Payroll database exposed',
      description: 'A backup of alice@victim.example’s tenant was readable in a public bucket.',
      severity: 'high',
      awareAt: new Date(clock.now()).toISOString(),
      dataCategories: ['contact'],
    });
    expect(opened.status, opened.text).toBe(201);
    const id = opened.json<{ id: string }>().id;
    const incidents = server.app.services.incidents;

    expect(await incidents.remind()).toEqual([]);
    expect(smtp.mails).toEqual([]);

    clock.advance(19 * HOUR); // last quarter of the 24-hour controller target
    expect(await incidents.remind()).toEqual([{ incidentId: id, clock: 'controller', stage: 'due_soon' }]);
    expect(perOfficer(new RegExp(`Incident ${id}: controller notice target runs out soon`))).toBe(1);
    expect(await incidents.remind()).toEqual([]);
    expect(await incidents.remind()).toEqual([]);
    expect(perOfficer(/Incident/)).toBe(1);

    clock.advance(6 * HOUR); // 25 h: the controller target passed
    await incidents.remind();
    expect(perOfficer(new RegExp(`Incident ${id}: controller notice target ran out`))).toBe(1);

    clock.advance(30 * HOUR); // 55 h: last quarter of the GDPR 72 hours
    await incidents.remind();
    expect(perOfficer(/GDPR Art\. 33 72-hour clock runs out soon/)).toBe(1);
    clock.advance(18 * HOUR); // 73 h
    await incidents.remind();
    await incidents.remind();
    expect(perOfficer(/GDPR Art\. 33 72-hour clock ran out/)).toBe(1);

    clock.advance(43 * DAY); // day 46: last quarter of HIPAA's 60 days
    await incidents.remind();
    expect(perOfficer(/HIPAA 60-day clock runs out soon/)).toBe(1);
    clock.advance(15 * DAY);
    await incidents.remind();
    await incidents.remind();
    expect(perOfficer(/HIPAA 60-day clock ran out/)).toBe(1);
    expect(perOfficer(/Incident/)).toBe(6);

    const overdue = smtp.to(officer().email, /GDPR Art\. 33 72-hour clock ran out/)[0];
    expect(overdue?.text).toContain(`incident ${id} (severity high)`);
    expect(overdue?.text).toContain('authority-notification');
    expect(overdue?.text).toContain('delayReason');
    for (const staff of others) expect(smtp.to(staff.email)).toEqual([]);
    expectNoPersonalData();
  });

  it('mails each law-enforcement request deadline reminder once, while the request is unanswered', async () => {
    // The officers' sessions lapsed with the clock: sign one in again.
    officers[0] = await newStaff(server, 'security_officer', clock);
    smtp.clear();
    const created = await post('/v1/platform/legal-requests', {
      authority: 'Metropolitan Police',
      legalBasis: 'Investigatory Powers Act 2016, s. 61',
      orderReference: 'MP-77',
      scope: 'All messages of Alice',
      tenantId: tenant.tenantId,
      receivedAt: new Date(clock.now()).toISOString(),
      deadlineAt: new Date(clock.now() + 8 * DAY).toISOString(),
    });
    expect(created.status, created.text).toBe(201);
    const id = created.json<{ id: string }>().id;
    const requests = server.app.services.legalRequests;

    expect(await requests.remindDeadlines()).toEqual([]);
    clock.advance(6 * DAY + HOUR); // last quarter of the 8 days
    expect(await requests.remindDeadlines()).toEqual([{ requestId: id, stage: 'due_soon' }]);
    expect(await requests.remindDeadlines()).toEqual([]);
    expect(perOfficer(new RegExp(`Law-enforcement request ${id}: deadline near`))).toBe(1);
    clock.advance(2 * DAY);
    expect(await requests.remindDeadlines()).toEqual([{ requestId: id, stage: 'overdue' }]);
    expect(await requests.remindDeadlines()).toEqual([]);
    expect(perOfficer(new RegExp(`Law-enforcement request ${id}: deadline passed`))).toBe(1);
    expect(perOfficer(/Law-enforcement request/)).toBe(2);
    const mail = smtp.to(officers[1]?.email ?? '', /deadline passed/)[0];
    expect(mail?.text).toContain('status received');
    expect(mail?.text).toContain('/review');
    for (const staff of others) expect(smtp.to(staff.email)).toEqual([]);
    expectNoPersonalData();
  });
});
