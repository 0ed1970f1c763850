import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The workspace packages' TypeScript sources (`source` in their exports), never their builds in dist/.
  // Tests run in Vite's server environment, which reads `ssr.resolve` (Vite's server defaults after `source`,
  // less `module`: Vitest hands these conditions to Node too, and some packages answer `module` with an ESM
  // build Node cannot load, e.g. @opentelemetry/api 1.9, whose imports lack file extensions).
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source', 'node', 'development|production'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    globalSetup: [
      'packages/server/test/support/global-setup.ts',
      'packages/server/test/support/compiled-build.ts',
    ],
    pool: 'forks',
    // Vitest's default is one worker less than the cores: one on this 2-core machine, where most test files
    // wait on servers, databases and browsers rather than compute. Two keep the suite inside its time budget.
    maxWorkers: 2,
    // Generous: tests that start real processes (the CLI, a server to SIGKILL) take several seconds each on
    // this 2-core machine, and several times that when other work shares it. A timeout is not a speed test.
    testTimeout: 90_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
