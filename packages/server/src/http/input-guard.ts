import { findUnstorableInput } from '@parley/protocol';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../app-error.ts';

/**
 * Refuses, with 400 `validation_failed`, any request whose decoded path parameters, query or body hold text no
 * column can store (NUL, lone surrogates) or nest too deeply — one check for every route, before its schema
 * and long before a store: PostgreSQL refuses NUL in `text`, and that refusal would otherwise surface as a
 * 500. Streamed bodies (uploads) are bytes, not text, and are left to their handler.
 */
export function installInputGuard(fastify: FastifyInstance): void {
  fastify.addHook('preValidation', (request, _reply, done) => {
    const parts: [string, unknown][] = [
      ['params', request.params],
      ['querystring', request.query],
      ['body', request.routeOptions.config.streamsBody === true ? undefined : request.body],
    ];
    for (const [where, value] of parts) {
      const found = findUnstorableInput(value);
      if (found) {
        // Names where, never what: the path is keys and indexes, each cut short (a key may be huge).
        const location = [where, ...found.path.map((key) => String(key).slice(0, 64))]
          .join('.')
          .slice(0, 200);
        done(new AppError('validation_failed', `Invalid request: ${location} ${found.problem}.`));
        return;
      }
    }
    done();
  });
}
