// @ts-check
import js from '@eslint/js';
import nodePlugin from 'eslint-plugin-n';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'data/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['vitest.config.ts', 'packages/server/bin/*.js'],
          defaultProject: 'tsconfig.base.json',
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { n: nodePlugin },
    rules: {
      'n/prefer-node-protocol': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  {
    // Vitest's asymmetric matchers (expect.stringMatching …) are typed `any` by design.
    files: ['packages/*/test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    // Dependencies point one way: domain code never reaches into the edges or the composition root.
    files: ['packages/server/src/**/*.ts'],
    ignores: [
      'packages/server/src/app.ts',
      'packages/server/src/app-services.ts',
      // Route files are edges that live beside their domain (ARCHITECTURE §1).
      'packages/server/src/**/*-routes.ts',
      'packages/server/src/http/**',
      'packages/server/src/cli/**',
      'packages/server/src/realtime/**',
      'packages/server/src/main.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/http/*', '**/realtime/*', '**/app.ts', '**/cli/*'],
              message: 'Services must not import the edges or the composition root.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/client/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@parley/server', '**/server/**', 'node:*'],
              message: 'The client runs in browsers: no server code, no Node built-ins.',
            },
          ],
        },
      ],
    },
  },
);
