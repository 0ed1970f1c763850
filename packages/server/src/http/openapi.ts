import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { parleyVersion } from '../version.ts';

/** Generates the OpenAPI document from the registered route schemas (zod → JSON Schema). */
export async function installOpenApi(fastify: FastifyInstance): Promise<void> {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Parley API',
        version: parleyVersion,
        description: 'Self-hostable, security-first chat and calling backend.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'Opaque OAuth 2.0 access token' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
}
