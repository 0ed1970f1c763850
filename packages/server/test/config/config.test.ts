import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configTableMarkdown, loadConfig } from '../../src/config.ts';

const repoRoot = path.resolve(import.meta.dirname, '../../../..');

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8443);
    expect(config.host).toBe('0.0.0.0');
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.masterKeyFile).toBe(path.resolve('./data/master.key'));
    expect(config.databaseUrl).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
    expect(config.tlsMode).toBe('tls');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads PARLEY_* variables, DATABASE_URL and REDIS_URL', () => {
    const config = loadConfig({
      PARLEY_PORT: '9443',
      PARLEY_DATA_DIR: '/var/lib/parley',
      DATABASE_URL: 'postgres://app@db:5432/parley',
      REDIS_URL: 'redis://cache:6379',
    });
    expect(config).toMatchObject({
      port: 9443,
      dataDir: '/var/lib/parley',
      masterKeyFile: '/var/lib/parley/master.key',
      databaseUrl: 'postgres://app@db:5432/parley',
      redisUrl: 'redis://cache:6379',
    });
  });

  it('reads a JSON config file, and environment variables win over it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-config-'));
    const file = path.join(dir, 'parley.json');
    writeFileSync(file, JSON.stringify({ port: 7000, logLevel: 'warn', bodyLimitBytes: 2048 }));
    const config = loadConfig({ PARLEY_CONFIG_FILE: file, PARLEY_PORT: '7001' });
    expect(config.port).toBe(7001);
    expect(config.logLevel).toBe('warn');
    expect(config.bodyLimitBytes).toBe(2048);
  });

  it('names the variable and the problem for every invalid value', () => {
    const problems = problemsOf({
      PARLEY_PORT: 'eighty',
      PARLEY_LOG_LEVEL: 'loud',
      DATABASE_URL: 'mysql://x',
      PARLEY_BODY_LIMIT_BYTES: '-5',
    });
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^PARLEY_PORT: must be a whole number/);
    expect(problems.join('\n')).toMatch(/PARLEY_LOG_LEVEL: .*"loud"/);
    expect(problems.join('\n')).toMatch(/DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(problems.join('\n')).toMatch(/PARLEY_BODY_LIMIT_BYTES: must be greater than 0/);
  });

  it('never echoes a database URL, which may hold a password', () => {
    const problems = problemsOf({ DATABASE_URL: 'mysql://user:hunter2@db/x' });
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('refuses a certificate without its key', () => {
    expect(problemsOf({ PARLEY_TLS_CERT: '/etc/cert.pem' })).toEqual([
      'PARLEY_TLS_CERT / PARLEY_TLS_KEY: set both or neither',
    ]);
  });

  it('refuses unknown keys and unreadable JSON in the config file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-config-'));
    const unknown = path.join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ prot: 1 }));
    expect(problemsOf({ PARLEY_CONFIG_FILE: unknown })[0]).toMatch(/unknown setting "prot"/);
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{ port: ');
    expect(problemsOf({ PARLEY_CONFIG_FILE: broken })[0]).toMatch(/^PARLEY_CONFIG_FILE: cannot read/);
  });

  it('keeps the README configuration table equal to the schema', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const table = /<!-- config-table:start -->\s*([\s\S]*?)\s*<!-- config-table:end -->/.exec(readme)?.[1];
    // Compare cell by cell: Prettier pads the columns of the committed table.
    const cells = (markdown: string) =>
      markdown
        .split('\n')
        .filter((line) => !/^\|[\s|-]+\|$/.test(line))
        .map((line) => line.split(/(?<!\\)\|/).map((cell) => cell.trim()));
    expect(table, 'README.md must hold the generated table between config-table markers').toBeDefined();
    expect(cells(table ?? '')).toEqual(cells(configTableMarkdown()));
  });
});
