import { STATUS_CODES } from 'node:http';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z, type ZodType } from 'zod';
import { parleyVersion } from '../version.ts';
import {
  nameInlineBodies,
  type OpenApiDocument,
  operationsOf,
  pruneComponents,
} from './openapi-components.ts';
import { anyRequestErrors, errorCodesOf, errorResponses } from './openapi-errors.ts';
import { operationOutcomes } from './operation-outcomes.ts';
import type { DocumentedResponse, RouteAccess, RouteDeclaration } from './route-table.ts';

type SwaggerTransform = Parameters<typeof jsonSchemaTransform>[0];

const description = `Self-hostable, security-first chat and calling backend.

Errors answer \`{ "error": { "code", "message", "requestId" } }\` (the \`Error\` schema; codes in docs/errors.md),
except on /oauth/*, which answer as RFC 6749 §5.2 says (\`OAuthError\`). Each operation lists the errors it answers
(their codes under \`x-parley-error-codes\`); besides, any request may be refused before it reaches a route with
one of \`x-parley-any-request-errors\`: \`route_not_found\` (404), \`method_not_allowed\` (405, with \`Allow\`),
\`request_timeout\` (408), \`uri_too_long\` (414), \`expectation_failed\` (417), \`headers_too_large\` (431). The realtime protocol (WSS at /v1/realtime) is described by the AsyncAPI document at /asyncapi.json.`;

/** A documented answer in the form the zod transform converts (a body per content type, or none). */
function asTransformResponse(answer: DocumentedResponse, produces: string | undefined): unknown {
  const content =
    answer.content ?? (answer.schema ? { [produces ?? 'application/json']: answer.schema } : undefined);
  if (!content) return z.undefined().meta({ description: answer.description });
  return {
    description: answer.description,
    content: Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema }])),
  };
}

/**
 * Adds to a route's schema what only the documentation needs: the bodies and answers its declaration or the
 * outcomes table documents, and its security requirement (the bearer token and the one scope it needs).
 */
function documentedSchema(
  schema: SwaggerTransform['schema'],
  route: RouteDeclaration,
): SwaggerTransform['schema'] {
  const documentation = route.documentation ?? {};
  const outcomes = operationOutcomes[route.operationId];
  const responses = { ...outcomes?.responses, ...documentation.responses };
  const response: Record<string, unknown> = { ...(schema.response as Record<string, ZodType> | undefined) };
  for (const [status, answer] of Object.entries(responses))
    response[status] = asTransformResponse(answer, route.produces);
  return {
    ...schema,
    ...(documentation.body && schema.body === undefined ? { body: documentation.body } : {}),
    ...(Object.keys(response).length > 0 ? { response } : {}),
    security: securityOf(route.access),
  };
}

/** Error answers on every operation, and reason phrases for the answers Fastify left undescribed. */
function addErrorResponses(document: OpenApiDocument, routes: ReadonlyMap<string, RouteDeclaration>): void {
  for (const operation of operationsOf(document)) {
    const route = routes.get(operation.operationId ?? '');
    if (!route) throw new Error(`No route declares the operation ${String(operation.operationId)}`);
    const responses = (operation.responses ??= {}) as Record<string, { description?: string }>;
    for (const [status, response] of Object.entries(responses)) {
      if (response.description === 'Default Response') response.description = STATUS_CODES[status] ?? status;
    }
    const codes = errorCodesOf(route, operationOutcomes[route.operationId]?.errors);
    // An answer the route documents itself (the OAuth errors, /readyz's 503) stands as documented.
    for (const [status, error] of Object.entries(errorResponses(route, codes))) responses[status] ??= error;
  }
}

/**
 * Generates the OpenAPI 3.1 document from the route declarations (zod → JSON Schema): named operations and
 * component schemas, each operation's security requirement and every error it can answer. Built on first
 * request (after every route is registered) and cached.
 */
/** The security requirement of a route: none, a tenant token with its one scope, or a staff token. */
function securityOf(access: RouteAccess): Record<string, string[]>[] {
  if (access.kind === 'public') return [];
  return access.kind === 'platform' ? [{ staffBearer: [] }] : [{ bearer: [access.scope] }];
}

export async function installOpenApi(fastify: FastifyInstance): Promise<void> {
  const routes = () => new Map(fastify.routeDeclarations.map((route) => [route.operationId, route]));
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Parley API', version: parleyVersion, description },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              'An opaque OAuth 2.0 access token from /oauth/token, in the Authorization header only. Each operation lists the one scope the token must carry.',
          },
          staffBearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              'An operator staff session token (parley_st_…) from POST /v1/platform/sessions: accepted on /v1/platform/… operations only; every tenant operation answers it 404.',
          },
        },
      },
    },
    transform: (input: SwaggerTransform) => {
      const route = routes().get(
        String((input.schema as { operationId?: unknown } | undefined)?.operationId),
      );
      if (!route) return jsonSchemaTransform(input);
      return jsonSchemaTransform({ ...input, schema: documentedSchema(input.schema, route) });
    },
    transformObject: (input) => {
      const document = jsonSchemaTransformObject(input) as unknown as OpenApiDocument;
      addErrorResponses(document, routes());
      document['x-parley-any-request-errors'] = anyRequestErrors;
      nameInlineBodies(document);
      pruneComponents(document);
      return document;
    },
  });
}
