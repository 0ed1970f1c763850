import type { DataExportBody } from '@parley/protocol';
import { Agent, request } from 'undici';
import { expect } from 'vitest';
import { bearer } from '../../support/identity-fixtures.ts';
import type { TestServer } from '../../support/start-server.ts';
import { unpackArchive } from './export-archive-fixtures.ts';

/** Runs the jobs due now on this node to their end: what the runner's next tick would do, awaited. */
export async function runDueJobs(server: TestServer): Promise<void> {
  await server.app.jobs.runner.tick();
  await server.app.jobs.runner.settled();
}

/** A download as bytes (the test server's `request` reads bodies as text). */
export async function downloadBytes(server: TestServer, path: string, token: string) {
  const dispatcher = new Agent({ connect: server.ca ? { ca: server.ca, servername: 'localhost' } : {} });
  try {
    const response = await request(`${server.url}${path}`, {
      dispatcher,
      headers: { authorization: `Bearer ${token}` },
    });
    const body = Buffer.from(await response.body.arrayBuffer());
    return { status: response.statusCode, headers: response.headers, body };
  } finally {
    await dispatcher.close();
  }
}

/**
 * Asks for an export (POST `requestPath` as `token`), lets the job build it, and downloads it from
 * `archivePath(id)`; resolves with the export as it stands and the archive's files.
 */
export async function exportAndUnpack(
  server: TestServer,
  token: string,
  requestPath: string,
  statusPath: (id: string) => string,
) {
  const requested = await server.request(requestPath, bearer(token, 'POST'));
  expect(requested.status, requested.text).toBe(202);
  const { id } = requested.json<DataExportBody>();
  await runDueJobs(server);
  const status = await server.request(statusPath(id), bearer(token));
  expect(status.status, status.text).toBe(200);
  const exported = status.json<DataExportBody>();
  expect(exported.status, JSON.stringify(exported)).toBe('ready');
  const download = await downloadBytes(server, `${statusPath(id)}/archive`, token);
  expect(download.status, download.body.toString('utf8').slice(0, 300)).toBe(200);
  expect(download.headers['content-type']).toBe('application/gzip');
  expect(download.body.length).toBe(exported.archiveBytes);
  return { exported, archive: download.body, files: await unpackArchive(download.body) };
}
