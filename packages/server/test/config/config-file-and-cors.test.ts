import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

function configFile(contents: unknown): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'parley-config-')), 'parley.json');
  writeFileSync(file, JSON.stringify(contents));
  return file;
}

describe('config file keys', () => {
  it('accepts the environment variable names as keys, as well as the setting names', () => {
    const file = configFile({
      PARLEY_PORT: 7000,
      PARLEY_LOG_LEVEL: 'warn',
      DATABASE_URL: 'postgres://app@db/parley',
      bodyLimitBytes: 2048,
      PARLEY_CORS_ORIGINS: ['https://app.example.com'],
    });
    const config = loadConfig({ PARLEY_CONFIG_FILE: file });
    expect(config).toMatchObject({
      port: 7000,
      logLevel: 'warn',
      databaseUrl: 'postgres://app@db/parley',
      bodyLimitBytes: 2048,
      corsOrigins: ['https://app.example.com'],
    });
  });

  it('lets the environment win over either form', () => {
    const file = configFile({ PARLEY_PORT: 7000 });
    expect(loadConfig({ PARLEY_CONFIG_FILE: file, PARLEY_PORT: '7001' }).port).toBe(7001);
  });

  it('names an unknown key and where the names are listed', () => {
    const problems = problemsOf({ PARLEY_CONFIG_FILE: configFile({ PARLEY_PROT: 1, port: 2 }) });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^PARLEY_CONFIG_FILE: unknown setting "PARLEY_PROT" in .*parley\.json/);
    expect(problems[0]).toContain('npx parley config table');
  });

  it('refuses one setting given twice under both names', () => {
    const problems = problemsOf({ PARLEY_CONFIG_FILE: configFile({ port: 1, PARLEY_PORT: 2 }) });
    expect(problems).toEqual([expect.stringMatching(/PARLEY_PORT is set twice/)]);
  });
});

describe('CORS settings', () => {
  it('are off by default: no origins, no credentials, a 600 s preflight cache', () => {
    expect(loadConfig({})).toMatchObject({ corsOrigins: [], corsCredentials: false, corsMaxAgeSeconds: 600 });
  });

  it('take a comma-separated list of exact origins', () => {
    const config = loadConfig({
      PARLEY_CORS_ORIGINS: 'https://app.example.com, http://localhost:5173,https://[::1]:8443',
      PARLEY_CORS_MAX_AGE: '120',
    });
    expect(config.corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
      'https://[::1]:8443',
    ]);
    expect(config.corsMaxAgeSeconds).toBe(120);
  });

  it('refuse what is not an origin, and say what to write instead', () => {
    const problems = problemsOf({
      PARLEY_CORS_ORIGINS:
        'https://app.example.com/, https://App.example.com, https://a.example:443, https://a.example/path, app.example.com, ftp://x.example, null',
    });
    expect(problems).toHaveLength(1);
    const [problem = ''] = problems;
    expect(problem).toMatch(/^PARLEY_CORS_ORIGINS: /);
    expect(problem).toContain('"https://app.example.com/" is not an origin: write "https://app.example.com"');
    expect(problem).toContain('"https://App.example.com" is not an origin: write "https://app.example.com"');
    expect(problem).toContain('"https://a.example:443" is not an origin: write "https://a.example"');
    expect(problem).toContain('"https://a.example/path" is not an origin: write "https://a.example"');
    expect(problem).toContain('"app.example.com" is not an origin');
    expect(problem).toContain('"ftp://x.example" is not an http:// or https:// origin');
    expect(problem).toContain('"null" is not an origin');
  });

  it('allow `*` alone and without credentials only', () => {
    expect(loadConfig({ PARLEY_CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
    expect(problemsOf({ PARLEY_CORS_ORIGINS: '*, https://app.example.com' })[0]).toMatch(/`\*` stands alone/);
    expect(problemsOf({ PARLEY_CORS_ORIGINS: '*', PARLEY_CORS_CREDENTIALS: 'true' })).toEqual([
      expect.stringMatching(
        /^PARLEY_CORS_ORIGINS: `\*` cannot be combined with PARLEY_CORS_CREDENTIALS=true/,
      ),
    ]);
    expect(
      loadConfig({ PARLEY_CORS_ORIGINS: 'https://app.example.com', PARLEY_CORS_CREDENTIALS: 'true' })
        .corsCredentials,
    ).toBe(true);
  });

  it('refuse a credentials flag that is not a boolean and a max-age out of range', () => {
    expect(problemsOf({ PARLEY_CORS_CREDENTIALS: 'maybe' })[0]).toMatch(
      /^PARLEY_CORS_CREDENTIALS: must be true or false/,
    );
    expect(problemsOf({ PARLEY_CORS_MAX_AGE: '86401' })[0]).toMatch(
      /^PARLEY_CORS_MAX_AGE: must be between 0 and 86400/,
    );
  });
});
