import { z } from 'zod';
import type { RouteDeclaration } from '../../src/http/route-table.ts';

/**
 * Routes the product does not have, registered the same way as real ones, for tests of the HTTP edge
 * itself (body limits, content types, crashes, draining at shutdown).
 */
export interface ProbeRouteControl {
  /** Resolved by the test to let the slow route answer. */
  releaseSlow: () => void;
  slowStarted: Promise<void>;
}

export function probeRoutes(): { routes: RouteDeclaration[]; control: ProbeRouteControl } {
  let releaseSlow!: () => void;
  const released = new Promise<void>((resolve) => {
    releaseSlow = resolve;
  });
  let markStarted!: () => void;
  const slowStarted = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  const access = { kind: 'public' } as const;
  const routes: RouteDeclaration[] = [
    {
      method: 'POST',
      url: '/test/echo',
      operationId: 'testEcho',
      summary: 'Echo a JSON body',
      tags: ['test'],
      access,
      schema: { body: z.object({ text: z.string().max(100), count: z.number().int().optional() }) },
      handler: (request) => Promise.resolve({ echoed: request.body }),
    },
    {
      method: 'GET',
      url: '/test/crash',
      operationId: 'testCrash',
      summary: 'Throw an unexpected error',
      tags: ['test'],
      access,
      handler: () => Promise.reject(new Error('database exploded at /srv/parley/secret.ts:42')),
    },
    {
      method: 'GET',
      url: '/test/slow',
      operationId: 'testSlow',
      summary: 'Answer when the test says so',
      tags: ['test'],
      access,
      handler: async () => {
        markStarted();
        await released;
        return { finished: true };
      },
    },
  ];
  return { routes, control: { releaseSlow, slowStarted } };
}
