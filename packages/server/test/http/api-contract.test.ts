import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Parser } from '@asyncapi/parser';
import { compileErrors, validate } from '@readme/openapi-parser';
import {
  clientFrameTypes,
  closeCodes,
  errorCatalogue,
  type ErrorCode,
  errorCodes,
  MFA_GRANT,
  serverFrameSchemas,
} from '@parley/protocol';
import * as prettier from 'prettier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorTableMarkdown } from '../../src/http/error-table.ts';
import { anyRequestErrors } from '../../src/http/openapi-errors.ts';
import { operationOutcomes } from '../../src/http/operation-outcomes.ts';
import type { RouteDeclaration } from '../../src/http/route-table.ts';
import { bearer, json, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * The two API contracts, fetched from a running server: `/openapi.json` and `/asyncapi.json` pass the official
 * validators, and say what generated clients need — a named operation for every route, named body schemas, each
 * operation's security requirement, every error it answers, and empty answers as 204/202.
 */

interface Media {
  schema?: { $ref?: string; type?: string };
}
interface Response {
  description: string;
  content?: Record<string, Media>;
  'x-parley-error-codes'?: ErrorCode[];
}
interface Operation {
  operationId: string;
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, Response>;
}
interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>> };
  'x-parley-any-request-errors': ErrorCode[];
}

const fastifyPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

describe('the API contracts', () => {
  let server: TestServer;
  let openApi: OpenApi;
  let asyncApi: Record<string, unknown>;
  let routes: readonly RouteDeclaration[];
  let owner: SignedIn;
  const operation = (route: RouteDeclaration): Operation => {
    const found = openApi.paths[fastifyPath(route.url)]?.[route.method.toLowerCase()];
    if (!found) throw new Error(`${route.method} ${route.url} is not documented`);
    return found;
  };

  beforeAll(async () => {
    server = await startTestServer();
    routes = server.app.fastify.routeDeclarations;
    owner = await newTenantOwner(server);
    const openApiResponse = await server.request('/openapi.json');
    expect(openApiResponse.status).toBe(200);
    openApi = openApiResponse.json<OpenApi>();
    const asyncApiResponse = await server.request('/asyncapi.json');
    expect(asyncApiResponse.status).toBe(200);
    asyncApi = asyncApiResponse.json();
  });

  afterAll(async () => {
    await server.close();
  });

  describe('answers without a body', () => {
    /** Documented as that status with no content, and answered so. */
    async function expectEmpty(
      path: string,
      method: string,
      status: number,
      request: Promise<{ status: number; text: string }>,
    ) {
      const documented = openApi.paths[path]?.[method]?.responses;
      expect(documented?.[String(status)], `${method} ${path}`).toBeDefined();
      expect(documented?.[String(status)]?.content).toBeUndefined();
      expect(documented?.['200'], `${method} ${path} documents no 200`).toBeUndefined();
      const answer = await request;
      expect(answer.status, answer.text).toBe(status);
      expect(answer.text).toBe('');
    }

    it('204: presence visibility, a block and its removal, a read receipt, a session ended', async () => {
      const other = await server.request(
        '/v1/users',
        json(
          {
            displayName: 'Bo',
            email: `bo-${Date.now()}@acme.example`,
            password: 'plum tree under the winter moon',
            roles: ['member'],
          },
          owner.accessToken,
        ),
      );
      expect(other.status, other.text).toBe(201);
      const userId = other.json<{ userId: string }>().userId;
      await expectEmpty(
        '/v1/me/presence-visibility',
        'put',
        204,
        server.request(
          '/v1/me/presence-visibility',
          json({ visibility: 'contacts' }, owner.accessToken, 'PUT'),
        ),
      );
      await expectEmpty(
        '/v1/me/blocks/{userId}',
        'put',
        204,
        server.request(`/v1/me/blocks/${userId}`, bearer(owner.accessToken, 'PUT')),
      );
      await expectEmpty(
        '/v1/me/blocks/{userId}',
        'delete',
        204,
        server.request(`/v1/me/blocks/${userId}`, bearer(owner.accessToken, 'DELETE')),
      );
      const dialog = await server.request(
        '/v1/dialogs',
        json({ type: 'group', name: 'Rota', memberIds: [userId] }, owner.accessToken),
      );
      const dialogId = dialog.json<{ id: string }>().id;
      await expectEmpty(
        '/v1/dialogs/{dialogId}/read',
        'post',
        204,
        server.request(`/v1/dialogs/${dialogId}/read`, json({ seq: 0 }, owner.accessToken)),
      );
      await expectEmpty(
        '/v1/me/sessions',
        'delete',
        204,
        server.request('/v1/me/sessions?others=true', bearer(owner.accessToken, 'DELETE')),
      );
    });

    it('202: a password reset request', async () => {
      await expectEmpty(
        '/v1/tenants/{tenantId}/password-reset',
        'post',
        202,
        server.request(`/v1/tenants/${owner.tenantId}/password-reset`, json({ email: owner.email })),
      );
    });
  });

  it('/openapi.json is a valid OpenAPI 3.1 document (@readme/openapi-parser)', async () => {
    expect(openApi.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(openApi) as never);
    expect(result.valid ? '' : compileErrors(result)).toBe('');
    // The validator does refuse a broken document: an operation answering with a schema that does not exist.
    const broken = structuredClone(openApi);
    const getMe = broken.paths['/v1/me']?.get?.responses['200']?.content?.['application/json'];
    if (getMe) getMe.schema = { $ref: '#/components/schemas/NoSuchSchema' };
    expect((await validate(broken as never)).valid).toBe(false);
  });

  it('/asyncapi.json is a valid AsyncAPI 3.0 document (@asyncapi/parser)', async () => {
    expect(asyncApi.asyncapi).toBe('3.0.0');
    // parse() gives a document only when no diagnostic is an error; warnings and hints (one recommends AsyncAPI
    // 3.1, which adds nothing this document uses) are advice.
    const { document, diagnostics } = await new Parser().parse(structuredClone(asyncApi) as never);
    const report = diagnostics.map((entry) => `${entry.path.join('.')}: ${entry.message}`).join('\n');
    expect(document, report).toBeDefined();
    // …and refuses a broken one: an operation with an action AsyncAPI 3 does not have.
    const broken = structuredClone(asyncApi) as { operations: Record<string, { action: string }> };
    const receiveAuth = broken.operations.receiveAuth;
    if (receiveAuth) receiveAuth.action = 'publish';
    expect((await new Parser().parse(broken as never)).document).toBeUndefined();
  });

  it('names every operation once, in camelCase, as its route declares', () => {
    const documented = Object.values(openApi.paths).flatMap((methods) =>
      Object.values(methods).map((entry) => entry.operationId),
    );
    expect(documented.length).toBe(routes.length);
    expect(new Set(documented).size).toBe(documented.length);
    for (const route of routes) {
      expect(route.operationId, route.url).toMatch(/^[a-z][a-zA-Z0-9]*$/);
      expect(operation(route).operationId).toBe(route.operationId);
    }
  });

  it('hand-lists outcomes only for operations that exist', () => {
    const names = routes.map((route) => route.operationId);
    expect(Object.keys(operationOutcomes).filter((name) => !names.includes(name))).toEqual([]);
  });

  it('gives each operation its security requirement: the bearer token with its scope, the staff token on platform operations, none when public', () => {
    for (const route of routes) {
      const { access } = route;
      const expected =
        access.kind === 'public'
          ? []
          : access.kind === 'platform'
            ? [{ staffBearer: [] }]
            : [{ bearer: [access.scope] }];
      expect(operation(route).security, route.operationId).toEqual(expected);
    }
  });

  it('names every JSON and form body, of requests and answers, in components.schemas', () => {
    const schemas = openApi.components.schemas;
    for (const route of routes) {
      const { requestBody, responses } = operation(route);
      const media = [
        ...Object.entries(requestBody?.content ?? {}),
        ...Object.values(responses).flatMap((response) => Object.entries(response.content ?? {})),
      ];
      for (const [type, { schema }] of media) {
        if (!['application/json', 'application/x-www-form-urlencoded'].includes(type)) continue;
        expect(String(schema?.$ref), `${route.operationId} ${type}`).toMatch(
          /^#\/components\/schemas\/[A-Z]\w+$/,
        );
        expect(schemas[schema?.$ref?.split('/').pop() ?? ''], schema?.$ref).toBeDefined();
      }
    }
    for (const name of ['Message', 'Dialog', 'SendMessageRequest', 'Error', 'OAuthError', 'TokenResponse'])
      expect(schemas[name], name).toBeDefined();
  });

  it('documents the errors each route can answer from its declaration, in the one Error schema', () => {
    for (const route of routes) {
      const { responses } = operation(route);
      const has = (status: number) => expect(responses[String(status)], `${route.operationId} ${status}`);
      has(400).toBeDefined();
      has(500).toBeDefined();
      if (route.access.kind !== 'public') {
        has(401).toBeDefined();
        has(403).toBeDefined();
        // A token of the other side (staff on a tenant route, tenant on a platform route) is answered 404.
        has(404).toBeDefined();
      }
      if (route.url.includes(':')) has(404).toBeDefined();
      if (route.method !== 'GET' && route.streamsBody !== true) {
        has(413).toBeDefined();
        has(415).toBeDefined();
      }
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) < 400 || response['x-parley-error-codes'] === undefined) continue;
        const schema = route.url.startsWith('/oauth/') ? 'OAuthError' : 'Error';
        expect(response.content?.['application/json']?.schema?.$ref).toBe(`#/components/schemas/${schema}`);
        for (const code of response['x-parley-error-codes'])
          expect(errorCatalogue[code].status, `${route.operationId}: ${code}`).toBe(Number(status));
      }
    }
  });

  it('keeps docs/errors.md, the Error schema and the catalogue equal (docs/errors.md as `npm run docs` writes it)', async () => {
    const file = path.resolve(import.meta.dirname, '../../../../docs/errors.md');
    const committed = readFileSync(file, 'utf8');
    const regenerated = committed.replace(
      /(<!-- error-table:start -->)[\s\S]*?(<!-- error-table:end -->)/,
      `$1\n\n${errorTableMarkdown()}\n\n$2`,
    );
    const options = await prettier.resolveConfig(file);
    expect(await prettier.format(regenerated, { ...options, filepath: file })).toBe(committed);
    const documented = [...committed.matchAll(/^\| `([a-z_]+)` /gm)].map(([, code]) => code);
    expect(documented).toEqual(errorCodes);
    const error = openApi.components.schemas.Error as {
      properties: { error: { properties: { code: { enum: string[] } } } };
    };
    expect(error.properties.error.properties.code.enum).toEqual(documented);
    expect(openApi['x-parley-any-request-errors']).toEqual(anyRequestErrors);
    for (const code of anyRequestErrors) expect(documented).toContain(code);
  });

  it('documents POST /oauth/token with every grant as a form, and RFC 6749 answers', () => {
    const token = openApi.paths['/oauth/token']?.post;
    expect(token?.requestBody?.content['application/x-www-form-urlencoded']?.schema?.$ref).toBe(
      '#/components/schemas/TokenRequest',
    );
    const schemas = openApi.components.schemas;
    const grants = (schemas.TokenRequest as { oneOf: { $ref: string }[] }).oneOf.map(({ $ref }) => {
      const grant = schemas[$ref.split('/').pop() ?? ''] as {
        properties: Record<string, { const?: string }>;
      };
      return { type: grant.properties.grant_type?.const, fields: Object.keys(grant.properties).sort() };
    });
    expect(grants).toEqual([
      { type: 'password', fields: ['grant_type', 'password', 'scope', 'tenant_id', 'username'] },
      { type: 'refresh_token', fields: ['grant_type', 'refresh_token', 'scope'] },
      { type: 'client_credentials', fields: ['client_id', 'client_secret', 'grant_type', 'scope'] },
      { type: MFA_GRANT, fields: ['grant_type', 'mfa_token', 'otp', 'recovery_code'] },
    ]);
    /** The answer's schema, and the component it names when that is the operation's own (`RequestToken…`). */
    const answer = (status: string) => {
      const ref = token?.responses[status]?.content?.['application/json']?.schema?.$ref ?? '';
      const name = ref.split('/').pop() ?? '';
      return name.startsWith('RequestToken') ? JSON.stringify(schemas[name]) : ref;
    };
    expect(answer('200')).toContain('TokenResponse');
    expect(answer('400')).toContain('OAuthError');
    expect(answer('403')).toContain('MfaRequired');
    expect(Object.keys((schemas.TokenResponse as { properties: object }).properties)).toEqual(
      expect.arrayContaining(['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope']),
    );
    const form = (path: string) =>
      openApi.paths[path]?.post?.requestBody?.content['application/x-www-form-urlencoded']?.schema?.$ref;
    expect(form('/oauth/revoke')).toBe('#/components/schemas/RevokeRequest');
    expect(form('/oauth/introspect')).toBe('#/components/schemas/IntrospectRequest');
    expect(answerOf('/oauth/introspect', '200')).toContain('IntrospectionResponse');
  });
  const answerOf = (path: string, status: string) =>
    JSON.stringify(openApi.paths[path]?.post?.responses[status]?.content);

  it('describes every realtime frame, what answers what, how a socket signs in and its close codes', () => {
    const channel = (
      asyncApi.channels as Record<string, { address: string; description: string; messages: object }>
    ).realtime;
    expect(channel?.address).toBe('/v1/realtime');
    const names = Object.values(channel?.messages ?? {}).map((message: { name: string }) => message.name);
    const clientTypes = clientFrameTypes.options.map((frame) => frame.shape.type.value);
    const serverTypes = serverFrameSchemas.map((frame) => frame.shape.type.value);
    expect(names.sort()).toEqual([...clientTypes, ...serverTypes].sort());
    for (const code of Object.values(closeCodes)) expect(channel?.description).toContain(`- ${code} (`);
    expect(channel?.description).toMatch(/first frame must be `auth`/);
    const operations = asyncApi.operations as Record<
      string,
      { action: string; reply?: { messages: { $ref: string }[] } }
    >;
    expect(operations.receiveAuth?.reply?.messages).toEqual([
      { $ref: '#/channels/realtime/messages/serverReady' },
    ]);
    expect(operations.receiveMessageSend?.reply?.messages.map(({ $ref }) => $ref)).toContain(
      '#/channels/realtime/messages/serverAck',
    );
    expect(operations.sendMessageNew?.action).toBe('send');
    const schemas = (asyncApi.components as { schemas: Record<string, unknown> }).schemas;
    expect(JSON.stringify(schemas.ServerMessageNew)).toContain('#/components/schemas/Message');
  });
});
