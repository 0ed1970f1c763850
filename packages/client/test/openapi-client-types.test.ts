import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../server/test/support/start-server.js';

const run = promisify(execFile);
const tsc = path.resolve(import.meta.dirname, '../../../node_modules/typescript/bin/tsc');

/**
 * What an app writes against a client generated from `/openapi.json` by openapi-typescript: named operations,
 * named body schemas, the error schema with its catalogued codes, empty answers, and the OAuth bodies. It is
 * type-checked against types generated from the running server, so a lost operationId, schema name, error answer
 * or OAuth body fails here.
 */
const typedUsage = `
import type { components, operations, paths } from './parley-api.ts';

type Schemas = components['schemas'];
type JsonOf<Answer> = Answer extends { content: { 'application/json': infer Body } } ? Body : never;

// Sending a message: the named operation, its named request body and its answers.
type SendMessage = operations['sendMessage'];
const send: SendMessage['requestBody'] extends { content: { 'application/json': infer Body } } ? Body : never = {
  clientId: 'c-1',
  body: 'Hello',
};
const message: Schemas['Message'] = {
  id: 'm', dialogId: 'd', seq: 1, senderId: 'u', clientId: 'c-1', body: 'Hello', replyTo: null, mentions: [],
  properties: null, attachments: [{ id: 'a', removed: true }], reactions: [], createdAt: '2026-01-01T00:00:00Z',
  editedAt: null, deleted: false,
};
const created: JsonOf<SendMessage['responses'][201]> = message;
const samePath: paths['/v1/dialogs/{dialogId}/messages']['post'] = {} as SendMessage;

// Errors: one schema, whose code is a catalogued one, on every error answer.
const slowDown: Schemas['Error'] = { error: { code: 'rate_limited', message: 'Slow down.', requestId: 'r' } };
const tooMany: JsonOf<SendMessage['responses'][429]> = slowDown;
const refused: JsonOf<operations['getDialog']['responses'][404]> = slowDown;
// @ts-expect-error: a code outside the catalogue is not an error code.
const unknownCode: Schemas['Error']['error']['code'] = 'no_such_code';

// An answer without a body.
const blocked: operations['blockUser']['responses'][204]['content'] = undefined;

// OAuth: every grant as a form, the token answer, the MFA step and RFC 6749 errors.
type TokenForm = operations['requestToken']['requestBody'] extends {
  content: { 'application/x-www-form-urlencoded': infer Form };
}
  ? Form
  : never;
const grants: TokenForm[] = [
  { grant_type: 'password', tenant_id: 't', username: 'ada@example.org', password: 'p', scope: 'chat' },
  { grant_type: 'refresh_token', refresh_token: 'r' },
  { grant_type: 'client_credentials', scope: 'admin' },
  { grant_type: 'urn:parley:params:oauth:grant-type:mfa-otp', mfa_token: 'm', otp: '123456' },
  { grant_type: 'urn:parley:params:oauth:grant-type:mfa-otp', mfa_token: 'm', recovery_code: 'abcd-efgh' },
];
const tokens: JsonOf<operations['requestToken']['responses'][200]> = {
  access_token: 'a', token_type: 'Bearer', expires_in: 900, refresh_token: 'r', scope: 'chat',
};
const mfa: Schemas['MfaRequired'] = { error: 'mfa_required', error_description: 'd', mfa_token: 'm', expires_in: 300 };
const badGrant: Schemas['OAuthError'] = { error: 'invalid_grant', error_description: 'd' };
const revoke: Schemas['RevokeRequest'] = { token: 't', token_type_hint: 'refresh_token' };
const introspection: JsonOf<operations['introspectToken']['responses'][200]> = { active: false };

export const used = [send, created, samePath, tooMany, refused, unknownCode, blocked, grants, tokens, mfa, badGrant, revoke, introspection];
`;

const tsconfig = {
  compilerOptions: {
    target: 'ES2023',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    types: [],
  },
  files: ['usage.ts'],
};

describe('a typed client generated from /openapi.json', () => {
  let server: TestServer;
  let document: Record<string, unknown>;
  let directory: string;

  beforeAll(async () => {
    server = await startTestServer();
    document = (await server.request('/openapi.json')).json();
    directory = await mkdtemp(path.join(tmpdir(), 'parley-openapi-client-'));
    await writeFile(path.join(directory, 'usage.ts'), typedUsage);
    await writeFile(path.join(directory, 'tsconfig.json'), JSON.stringify(tsconfig));
  });

  afterAll(async () => {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  });

  /** Generates the client from `spec` with openapi-typescript and type-checks the usage against it. */
  async function typeCheck(spec: Record<string, unknown>): Promise<{ ok: boolean; output: string }> {
    // As docs/api.md says: a field with a default is optional to send (openapi-typescript makes it required).
    const generated = astToString(await openapiTS(spec as never, { defaultNonNullable: false }));
    await writeFile(path.join(directory, 'parley-api.ts'), generated);
    try {
      await run(process.execPath, [tsc, '-p', directory]);
      return { ok: true, output: '' };
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      return { ok: false, output: `${stdout}${stderr}` };
    }
  }

  it('type-checks an app’s use of named operations, schemas, errors and OAuth bodies', async () => {
    const result = await typeCheck(document);
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });

  it('fails when an operation loses its name (the check can fail)', async () => {
    const renamed = structuredClone(document) as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    const operation = renamed.paths['/v1/dialogs/{dialogId}/messages']?.post;
    expect(operation?.operationId).toBe('sendMessage');
    if (operation) delete operation.operationId;
    const result = await typeCheck(renamed);
    expect(result.ok).toBe(false);
    expect(result.output).toContain('sendMessage');
  });
});
