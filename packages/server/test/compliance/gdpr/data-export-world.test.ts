import { randomBytes } from 'node:crypto';
import { exportOthersMessagesPolicies } from '@parley/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../../support/dialects.ts';
import { json, newMember, newTenantOwner } from '../../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';
import { exportAndUnpack } from './export-download.ts';
import { expectArchiveMatchesDatabase } from './export-expectations.ts';
import { buildWorld, worldPlan } from './export-world.ts';

/** Each run builds a tenant of its own on one server, so runs never see each other's data. */
const RUNS = Number(process.env.PARLEY_EXPORT_WORLD_RUNS ?? 6);

describeEachDialect('data export of a random world', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    // Jobs run when the test says (runDueJobs), not on the runner's own timer.
    server = await startTestServer({ dialect, env: { PARLEY_JOB_POLL_INTERVAL_MS: '10000' } });
  });

  afterAll(async () => {
    await server.close();
  });

  it('holds every record of its subject, other people’s messages as the tenant’s policy says, and nothing of anyone the subject shares nothing with nor of another tenant', async () => {
    await fc.assert(
      fc.asyncProperty(
        worldPlan,
        fc.constantFrom(...exportOthersMessagesPolicies),
        fc.boolean(),
        async (plan, policy, selfService) => {
          const owner = await newTenantOwner(server, `World ${randomBytes(4).toString('hex')}`);
          const settings = await server.request(
            '/v1/tenant/settings',
            json({ privacy: { exportOthersMessages: policy } }, owner.accessToken, 'PATCH'),
          );
          expect(settings.status, settings.text).toBe(200);
          const subject = await newMember(
            server,
            owner,
            `subject-${randomBytes(4).toString('hex')}@world.example`,
          );
          const world = await buildWorld(server, owner.tenantId, subject.userId, plan);
          const { exported, files } = selfService
            ? await exportAndUnpack(server, subject.token, '/v1/me/exports', (id) => `/v1/me/exports/${id}`)
            : await exportAndUnpack(
                server,
                owner.accessToken,
                `/v1/users/${subject.userId}/exports`,
                (id) => `/v1/exports/${id}`,
              );
          expect(exported).toMatchObject({
            othersMessages: policy,
            source: selfService ? 'subject' : 'admin',
          });
          await expectArchiveMatchesDatabase(server, world, exported, files);
        },
      ),
      // A failing world shrinks for up to two minutes, then is reported as it stands.
      { numRuns: RUNS, interruptAfterTimeLimit: 120_000, markInterruptAsFailure: true },
    );
  }, 600_000);
});
