import { spawn } from 'node:child_process';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliTenantAccess } from '../../src/cli/cli-tenant-access.ts';
import { CLI_ACCESS_ACTION } from '../../src/cli/cli-access-record.ts';
import { loadConfig } from '../../src/config.ts';
import { openStorage } from '../../src/storage/database.ts';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../support/dialects.ts';
import { bearer, json, newTenantOwner } from '../support/identity-fixtures.ts';
import { type CliResult, parley } from '../support/run-cli.ts';
import { newStaff, type SignedInStaff, staffPassword } from '../support/staff-fixtures.ts';
import { startTestServer } from '../support/start-server.ts';

const parleyBin = path.resolve(import.meta.dirname, '../../bin/parley.js');

/** `parley <args>` with `input` on its standard input (a password is never an argument). */
function parleyWithInput(args: string[], env: Record<string, string>, input: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [parleyBin, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => {
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** The commands a `--help` page lists (two-space indent; wrapped descriptions are indented deeper). */
function commandsOf(help: string): string[] {
  const section = help.split('\nCommands:\n')[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)]
    .map((match) => match[1] ?? '')
    .filter((name) => name !== 'help');
}

/** How the test runs each command that records, against a database holding `tenantId` (in this order). */
const runs: Record<string, (tenantId: string, until: string) => string[]> = {
  'tenant status': (tenantId) => ['tenant', 'status', tenantId],
  'tenant close': (tenantId) => ['tenant', 'close', tenantId, '--export-days', '30'],
  'tenant reopen': (tenantId) => ['tenant', 'reopen', tenantId],
  'support review': (_tenantId, until) => ['support', 'review', '--since', '2020-01-01', '--until', until],
  'keys rotate-data-key': (tenantId) => ['keys', 'rotate-data-key', '--tenant', tenantId],
  'keys reencrypt': () => ['keys', 'reencrypt'],
  'retention plan': (tenantId) => ['retention', 'plan', '--tenant', tenantId],
  'search reindex': (tenantId) => ['search', 'reindex', '--tenant', tenantId],
  'access-log query': (tenantId) => ['access-log', 'query', '--tenant', tenantId],
  'access-log verify': (tenantId) => ['access-log', 'verify', '--tenant', tenantId],
  'audit verify': (tenantId) => ['audit', 'verify', '--tenant', tenantId],
};

/**
 * Break-glass is visible (issue 17, point 4): every `parley` command is classified as reading a tenant's data
 * or not (src/cli/cli-tenant-access.ts, kept equal to the CLI's own help), and each one that reads records
 * `operator.cli_access` in that tenant's audit chain — command, OS user, host, pid, nothing else — before it
 * reads. The commands run as the compiled CLI, as an operator would run them.
 */
describe('the CLI command inventory', () => {
  it('classifies every command the CLI has, and nothing else', async () => {
    const top = await parley(['--help'], {});
    expect(top.code, top.stderr).toBe(0);
    const leaves: string[] = [];
    for (const command of commandsOf(top.stdout)) {
      const page = await parley([command, '--help'], {});
      const subcommands = commandsOf(page.stdout);
      if (subcommands.length === 0) leaves.push(command);
      else leaves.push(...subcommands.map((sub) => `${command} ${sub}`));
    }
    expect(leaves.sort()).toEqual(Object.keys(cliTenantAccess).sort());
    const recording = Object.entries(cliTenantAccess)
      .filter(([, access]) => access.records)
      .map(([command]) => command);
    expect(recording.sort()).toEqual(Object.keys(runs).sort());
  });
});

describeEachDialect('CLI commands that read tenant data record it in the tenant’s audit chain', (dialect) => {
  let database: TestDatabase;
  let tenantId: string;
  let until: string;
  let routeHash: string;
  let officer: SignedInStaff;
  let supportStaff: SignedInStaff;

  beforeAll(async () => {
    database = createTestDatabase(dialect);
    // A tenant with an approved support grant used once, set up over the API on the CLI's database.
    const server = await startTestServer({ dialect, env: database.env });
    try {
      const owner = await newTenantOwner(server, 'Watched Ltd');
      tenantId = owner.tenantId;
      const support = await newStaff(server, 'support');
      supportStaff = support;
      officer = await newStaff(server, 'security_officer');
      const asked = await server.request(
        '/v1/platform/support-grants',
        json(
          { tenantId, reason: 'Ticket 12: cannot sign in.', scope: 'metadata', durationHours: 2 },
          support.accessToken,
        ),
      );
      const grantId = asked.json<{ id: string }>().id;
      await server.request(`/v1/support-grants/${grantId}/approve`, json({}, owner.accessToken));
      await server.request('/v1/tenant/settings', {
        headers: { authorization: `Bearer ${support.accessToken}`, 'parley-support-grant': grantId },
      });
      until = new Date(Date.now() + 1000).toISOString();
      const report = await server.request(
        `/v1/platform/support-reviews/report?since=2020-01-01&until=${encodeURIComponent(until)}`,
        bearer(officer.accessToken),
      );
      expect(report.status, report.text).toBe(200);
      routeHash = report.json<{ reportHash: string }>().reportHash;
    } finally {
      await server.close();
    }
  });
  afterAll(async () => {
    await database.drop();
  });

  const cliEntries = async (tenant: string) => {
    const storage = openStorage(loadConfig(database.env));
    try {
      return await storage.withTenant(tenant, (tx) =>
        tx
          .selectFrom('audit_log')
          .select(['action', 'actor_type', 'details', 'ip', 'user_agent'])
          .where('tenant_id', '=', tenant)
          .where('action', '=', CLI_ACCESS_ACTION)
          .orderBy('seq')
          .execute(),
      );
    } finally {
      await storage.close();
    }
  };

  it('records operator.cli_access with the command, OS user, host and pid for each command that reads', async () => {
    for (const [command, args] of Object.entries(runs)) {
      const result = await parley(args(tenantId, until), database.env);
      expect(result.code, `${command}: ${result.stderr}`).toBe(0);
      if (command === 'support review')
        expect(JSON.parse(result.stdout)).toMatchObject({
          reportHash: routeHash,
          totals: { grants: 1, accesses: 1 },
        });
      if (command === 'audit verify') expect(result.stdout).toContain(`"tenantId":"${tenantId}","ok":true`);
      const entries = await cliEntries(tenantId);
      const last = entries.at(-1);
      expect(last, command).toBeDefined();
      const details = JSON.parse(last?.details ?? '{}') as Record<string, unknown>;
      expect(details, command).toEqual({
        command,
        osUser: userInfo().username,
        host: hostname(),
        pid: expect.any(Number),
      });
      expect(last).toMatchObject({ actor_type: 'system', ip: null, user_agent: null });
    }
    expect(
      (await cliEntries(tenantId)).map((entry) => (JSON.parse(entry.details) as { command: string }).command),
    ).toEqual(Object.keys(runs));
    // The chain still verifies with every entry the commands added.
    const verified = await parley(['audit', 'verify', '--tenant', tenantId], database.env);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain(`"tenantId":"${tenantId}","ok":true`);
  });

  it('prints the review as text for a person, with the hash to sign', async () => {
    const text = await parley(
      ['support', 'review', '--since', '2020-01-01', '--until', until, '--format', 'text'],
      database.env,
    );
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`Report hash (sign this): ${routeHash}`);
    expect(text.stdout).toContain(`tenant ${tenantId}`);
    expect(text.stdout).toContain('GET /v1/tenant/settings (getTenantSettings) success');
    const bad = await parley(['support', 'review', '--since', 'yesterday'], database.env);
    expect(bad.code).toBe(2);
  });

  it('signs a review as a security officer proven by password and TOTP, and refuses anyone else or another hash', async () => {
    const window = ['support', 'review', '--since', '2020-01-01', '--until', until];
    const sign = (staff: SignedInStaff, hash: string, code: string) =>
      parleyWithInput(
        [...window, '--sign', hash, '--email', staff.email, '--code', code],
        database.env,
        `${staffPassword}\n`,
      );
    const nextCode = (staff: SignedInStaff) => staff.totp.generate({ timestamp: Date.now() + 30_000 });

    const wrongHash = await sign(officer, 'b'.repeat(64), nextCode(officer));
    expect([wrongHash.code, wrongHash.stderr]).toEqual([
      1,
      expect.stringContaining('support_review_hash_mismatch'),
    ]);
    const byAgent = await sign(supportStaff, routeHash, nextCode(supportStaff));
    expect([byAgent.code, byAgent.stderr]).toEqual([1, expect.stringContaining('forbidden')]);
    const badCode = await sign(officer, routeHash, '000000');
    expect([badCode.code, badCode.stderr]).toEqual([1, expect.stringContaining('invalid_credentials')]);
    const noPassword = await parleyWithInput(
      [...window, '--sign', routeHash, '--email', officer.email, '--code', '1'],
      database.env,
      '',
    );
    expect(noPassword.code).toBe(1);

    const code = nextCode(officer);
    const signed = await sign(officer, routeHash, code);
    expect(signed.code, signed.stderr).toBe(0);
    expect(JSON.parse(signed.stdout)).toMatchObject({
      reportHash: routeHash,
      signedBy: officer.id,
      grants: 1,
      accesses: 1,
    });
    // The code worked once.
    const replayed = await sign(officer, routeHash, code);
    expect(replayed.code).toBe(1);
    expect(replayed.stderr).toMatch(/mfa_code_reused|invalid_credentials/);
  });

  it('never creates a chain: a command naming an unknown tenant records nothing', async () => {
    const unknown = '00000000-0000-7000-8000-000000000000';
    const status = await parley(['tenant', 'status', unknown], database.env);
    expect(status.stderr).toContain('not_found');
    const verify = await parley(['audit', 'verify', '--tenant', unknown], database.env);
    expect(verify.code).toBe(1);
    expect(await cliEntries(unknown)).toEqual([]);
  });
});
