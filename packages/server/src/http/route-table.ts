import type { Permission, Scope, StaffRole } from '@parley/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodType } from 'zod';

/**
 * Who may call a route. Every route declares one: `public` routes answer anyone (operations endpoints);
 * tenant routes (`authenticated`) name the OAuth scope and the RBAC permission they need; `platform` routes
 * (`/v1/platform/…`) answer operator staff tokens only, of the roles named. A staff token on a tenant route, or
 * a tenant token on a platform route, is answered 404: neither side can even see the other's routes.
 */
export type RouteAccess =
  | { kind: 'public' }
  | { kind: 'authenticated'; scope: Scope; permission: Permission | null }
  | { kind: 'platform'; roles: readonly StaffRole[] };

export interface RouteSchema {
  params?: ZodType;
  querystring?: ZodType;
  body?: ZodType;
  response?: Record<number, ZodType>;
}

export interface DocumentedResponse {
  description: string;
  schema?: ZodType;
  content?: Record<string, ZodType>;
}

/**
 * What the OpenAPI document shows of a route that checks or builds its bodies itself (the OAuth endpoints answer
 * in RFC 6749's shapes, not through Fastify's schemas): documented, never used to validate or serialise.
 */
export interface RouteDocumentation {
  /** The request body the handler parses itself. */
  body?: ZodType;
  /**
   * Answers by status, each with its description and body: `schema` in the route's content type (JSON unless
   * `produces` says otherwise), or `content` by content type; neither is an answer without a body.
   */
  responses?: Record<number, DocumentedResponse>;
}

/** A route, declared once: the same declaration registers it, documents it and drives the refusal tests. */
export interface RouteDeclaration {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  /**
   * The operation's name in `/openapi.json`: camelCase, unique, and stable (generated clients name their methods
   * and types after it, so renaming one breaks them).
   */
  operationId: string;
  summary: string;
  tags: string[];
  access: RouteAccess;
  schema?: RouteSchema;
  /** Response content type when it is not JSON (documented in OpenAPI). */
  produces?: string;
  /** Request content type when it is not JSON (the OAuth endpoints take forms, as the RFCs say). */
  consumes?: string;
  /**
   * The handler reads the request body itself: `request.body` is the raw byte stream (or undefined when there
   * is no body), whatever its content type, never buffered and not under the global body limit — the handler
   * enforces its own (attachment uploads).
   */
  streamsBody?: boolean;
  documentation?: RouteDocumentation;
  handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
    /** See {@link RouteDeclaration.streamsBody}. */
    streamsBody?: boolean;
  }
}

export function registerRoutes(fastify: FastifyInstance, routes: readonly RouteDeclaration[]): void {
  const add = (scope: FastifyInstance, route: RouteDeclaration) => {
    scope.route({
      method: route.method,
      url: route.url,
      config: { access: route.access, ...(route.streamsBody ? { streamsBody: true } : {}) },
      schema: {
        operationId: route.operationId,
        summary: route.summary,
        tags: route.tags,
        ...(route.produces ? { produces: [route.produces] } : {}),
        ...(route.consumes ? { consumes: [route.consumes] } : {}),
        ...route.schema,
      },
      handler: route.handler,
    });
  };
  for (const route of routes.filter((entry) => !entry.streamsBody)) add(fastify, route);
  const streaming = routes.filter((entry) => entry.streamsBody);
  if (streaming.length === 0) return;
  // Content-type parsers are encapsulated: only these routes hand every body over as the raw stream.
  void fastify.register((scope, _options, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, parsed) => {
      parsed(null, payload);
    });
    for (const route of streaming) add(scope, route);
    done();
  });
}
