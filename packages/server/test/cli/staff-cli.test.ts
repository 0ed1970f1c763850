import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../support/dialects.ts';
import { json } from '../support/identity-fixtures.ts';
import { parley } from '../support/run-cli.ts';
import { staffPassword, totpOf } from '../support/staff-fixtures.ts';
import { startTestServer } from '../support/start-server.ts';

describeEachDialect('parley staff create / list', (dialect) => {
  let database: TestDatabase;

  beforeAll(() => {
    database = createTestDatabase(dialect);
  });
  afterAll(async () => {
    await database.drop();
  });

  it('creates a staff account whose printed token and secret enrol it on the server, then signs in with MFA', async () => {
    const created = await parley(
      ['staff', 'create', '--email', 'Grace@Operator.example', '--role', 'security_officer'],
      database.env,
    );
    expect(created.code, created.stderr).toBe(0);
    const printed = JSON.parse(created.stdout) as {
      id: string;
      role: string;
      enrolmentToken: string;
      otpauthUri: string;
      totpSecret: string;
    };
    expect(printed).toMatchObject({ role: 'security_officer' });
    expect(printed.enrolmentToken).toMatch(/^parley_se_/);

    const listed = await parley(['staff', 'list'], database.env);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ id: printed.id, email: 'grace@operator.example', enrolled: false }),
    ]);
    expect(listed.stdout).not.toContain(printed.totpSecret);

    // The server on the same database accepts what the CLI printed, once.
    const server = await startTestServer({ dialect, env: database.env });
    try {
      const totp = totpOf(printed.otpauthUri);
      const enrolled = await server.request(
        '/v1/platform/enrolment',
        json({
          enrolmentToken: printed.enrolmentToken,
          password: staffPassword,
          code: totp.generate({ timestamp: Date.now() - 30_000 }),
        }),
      );
      expect(enrolled.status, enrolled.text).toBe(204);
      const session = await server.request(
        '/v1/platform/sessions',
        json({ email: 'grace@operator.example', password: staffPassword, code: totp.generate() }),
      );
      expect(session.status, session.text).toBe(201);
    } finally {
      await server.close();
    }
  });

  it('refuses an unknown role and a second account with the same address', async () => {
    const unknown = await parley(
      ['staff', 'create', '--email', 'x@operator.example', '--role', 'owner'],
      database.env,
    );
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('unknown staff role');
    const duplicate = await parley(
      ['staff', 'create', '--email', 'grace@operator.example', '--role', 'support'],
      database.env,
    );
    expect(duplicate.code).not.toBe(0);
  });
});
