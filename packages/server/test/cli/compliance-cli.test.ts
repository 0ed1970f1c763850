import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SignedComplianceReport } from '@parley/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../support/dialects.ts';
import { parley } from '../support/run-cli.ts';

/**
 * `parley compliance report` and `parley compliance verify`: the operator's signed evidence report, as JSON
 * and as HTML, and the check of a copy. Attacks tried: a JSON copy with a status changed, an HTML page whose
 * visible text was edited while its embedded JSON was left alone.
 */
describeEachDialect('parley compliance report|verify', (dialect) => {
  let database: TestDatabase;
  let tenantId: string;
  const file = (name: string) => path.join(database.dataDir, name);

  beforeAll(async () => {
    database = createTestDatabase(dialect);
    const created = await parley(['tenant', 'create', '--name', 'CLI <b>Clinic</b>'], database.env);
    expect(created.code, created.stderr).toBe(0);
    tenantId = (JSON.parse(created.stdout) as { tenantId: string }).tenantId;
  });
  afterAll(async () => {
    await database.drop();
  });

  it('writes a signed JSON report of a tenant that verifies, and refuses it once a status is changed', async () => {
    const out = file('report.json');
    const made = await parley(
      ['compliance', 'report', '--tenant', tenantId, '--format', 'json', '--out', out],
      database.env,
    );
    expect(made.code, made.stderr).toBe(0);
    const signed = JSON.parse(readFileSync(out, 'utf8')) as SignedComplianceReport;
    expect(signed.report).toMatchObject({
      tenant: { id: tenantId, name: 'CLI <b>Clinic</b>' },
      requestedBy: 'cli',
    });
    // No backup was ever taken here: the backups control says so.
    expect(signed.report.controls.find((c) => c.id === 'backups')?.status).toBe('not_met');
    // The periodic review of support access is read as the API's report reads it (none signed yet).
    expect(signed.report.controls.find((c) => c.id === 'support_access')?.evidence).toMatchObject({
      reviewPeriodDays: 92,
      lastReviewSignedAt: null,
    });
    const good = await parley(['compliance', 'verify', out], database.env);
    expect(good.code, good.stderr).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, trusted: true });

    const tampered = structuredClone(signed);
    tampered.report.controls = tampered.report.controls.map((c) => ({ ...c, status: 'met', findings: [] }));
    writeFileSync(out, JSON.stringify(tampered));
    const bad = await parley(['compliance', 'verify', out], database.env);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, reason: 'signature_invalid' });
  });

  it('writes an installation-wide HTML report that verifies, and refuses it once its visible text is edited', async () => {
    const out = file('report.html');
    const made = await parley(['compliance', 'report', '--format', 'html', '--out', out], database.env);
    expect(made.code, made.stderr).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('Installation-wide');
    expect(html).not.toMatch(/<script/i);
    const good = await parley(['compliance', 'verify', out], database.env);
    expect(good.code, good.stdout + good.stderr).toBe(0);

    writeFileSync(out, html.replace(/class="badge not_met">Not met/g, 'class="badge met">Met'));
    const bad = await parley(['compliance', 'verify', out], database.env);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, reason: 'html_altered' });
  });
});
