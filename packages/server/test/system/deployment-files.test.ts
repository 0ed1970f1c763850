import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, settings } from '../../src/config.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../../..');
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');
const knownVariables = new Set(Object.values(settings).map((setting) => setting.env));

interface ComposeService {
  build?: string | { context: string; dockerfile?: string };
  image?: string;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  entrypoint?: string[];
  network_mode?: string;
}

const compose = parse(read('compose.yaml')) as { services: Record<string, ComposeService> };
const dockerfile = read('Dockerfile');
const service = (name: string): ComposeService => {
  const found = compose.services[name];
  if (!found) throw new Error(`compose.yaml has no service ${name}`);
  return found;
};

/** What Compose makes of `${NAME}`, `${NAME:-default}` and `${NAME:?message}`, with `.env` holding `values`. */
function interpolate(text: string, values: Record<string, string>): string {
  return text.replace(
    /\$\{(\w+)(?::([-?])([^}]*))?\}/g,
    (_match, name: string, kind?: string, rest?: string) => {
      const value = values[name];
      if (value !== undefined && value !== '') return value;
      if (kind === '?') throw new Error(`compose would refuse to start: ${rest ?? name}`);
      return kind === '-' ? (rest ?? '') : '';
    },
  );
}

/** The Dockerfile's `ENV a=b c=d` settings of its last (runtime) stage. */
function runtimeEnv(): Record<string, string> {
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const envBlock = /^ENV ((?:.*\\\n)*.*)$/m.exec(runtimeStage)?.[1] ?? '';
  return Object.fromEntries(
    envBlock
      .replace(/\\\n/g, ' ')
      .trim()
      .split(/\s+/)
      .map((pair) => pair.split('=') as [string, string]),
  );
}

describe('Dockerfile', () => {
  it('builds with the same commands CI runs: npm ci, then npm run build (tsc -b, then the console)', () => {
    const buildStage = dockerfile.slice(0, dockerfile.lastIndexOf('\nFROM '));
    expect(buildStage).toMatch(/^FROM node:20-bookworm-slim AS build$/m);
    expect(buildStage).toMatch(/^RUN npm ci$/m);
    expect(buildStage).toMatch(/^RUN npm run build$/m);
    expect((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.build).toBe(
      'tsc -b && npm run build -w packages/console',
    );
    // Every workspace's manifest is in place before `npm ci`, or the console's build tools are not installed.
    for (const workspace of ['protocol', 'client', 'server', 'console'])
      expect(buildStage).toContain(`COPY packages/${workspace}/package.json packages/${workspace}/`);
    expect(read('.ci/run')).toMatch(/^npm install && npm run build && npm test$/m);
  });

  it('runs the compiled CLI as a non-root user, with the data directory as a volume and a health check', () => {
    const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtimeStage).toMatch(/^FROM node:20-bookworm-slim$/m);
    expect(runtimeStage).toMatch(/^USER parley$/m);
    expect(runtimeEnv().PARLEY_DATA_DIR).toBe('/var/lib/parley');
    expect(runtimeStage).toContain('VOLUME ["/var/lib/parley"]');
    expect(runtimeStage).toMatch(/^HEALTHCHECK .* CMD \["node", "deploy\/healthcheck\.js"\]$/m);
    expect(runtimeStage).toContain('ENTRYPOINT ["node", "packages/server/bin/parley.js"]');
    for (const name of Object.keys(runtimeEnv())) {
      if (name !== 'NODE_ENV') expect(knownVariables).toContain(name);
    }
    expect(read('.dockerignore').split('\n')).toEqual(
      expect.arrayContaining(['**/node_modules', '**/dist', 'data']),
    );
  });
});

describe('compose.yaml', () => {
  const dotEnv = {
    POSTGRES_PASSWORD: 'a-database-password',
    PARLEY_TURN_HOST: 'turn.example.com',
    PARLEY_TURN_SECRET: 'f'.repeat(64),
  };

  it('runs Parley, PostgreSQL, Redis and coturn, on pinned images, Parley built from the Dockerfile', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['coturn', 'parley', 'postgres', 'redis']);
    expect(service('parley').build).toBe('.');
    for (const name of ['postgres', 'redis', 'coturn']) {
      expect(service(name).image).toMatch(/^[\w./-]+:\d[\w.-]*$/);
    }
    expect(service('parley').depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
  });

  it('gives Parley a configuration that its own schema accepts, pointing at the compose services', () => {
    const environment = service('parley').environment ?? {};
    for (const name of Object.keys(environment)) expect(knownVariables).toContain(name);
    const env = Object.fromEntries(
      Object.entries({ ...runtimeEnv(), ...environment }).map(([name, value]) => [
        name,
        interpolate(value, dotEnv),
      ]),
    );
    const config = loadConfig(env);
    expect(config.databaseUrl).toBe('postgres://parley:a-database-password@postgres:5432/parley');
    expect(config.redisUrl).toBe('redis://redis:6379');
    expect(config.turnUrls).toEqual([
      'turn:turn.example.com:3478?transport=udp',
      'turn:turn.example.com:3478?transport=tcp',
    ]);
    expect(config.turnSecret).toBe(dotEnv.PARLEY_TURN_SECRET);
    expect(service('parley').volumes).toContain(`parley-data:${runtimeEnv().PARLEY_DATA_DIR ?? ''}`);
  });

  it('refuses to start without the secrets, and publishes neither PostgreSQL nor Redis', () => {
    const environment = service('parley').environment ?? {};
    expect(() => interpolate(environment.PARLEY_TURN_SECRET ?? '', {})).toThrow(/PARLEY_TURN_SECRET/);
    expect(() => interpolate(environment.DATABASE_URL ?? '', {})).toThrow(/POSTGRES_PASSWORD/);
    expect(service('postgres').ports).toBeUndefined();
    expect(service('redis').ports).toBeUndefined();
  });

  it('hands coturn the same TURN secret through its config file, never its command line', () => {
    const coturn = service('coturn');
    const secretOf = (name: string) =>
      interpolate(service(name).environment?.PARLEY_TURN_SECRET ?? '', dotEnv);
    expect(secretOf('coturn')).toBe(dotEnv.PARLEY_TURN_SECRET);
    expect(secretOf('parley')).toBe(dotEnv.PARLEY_TURN_SECRET);
    const script = (coturn.entrypoint ?? []).join(' ');
    expect(script).toContain('$$PARLEY_TURN_SECRET');
    expect(script).toMatch(/exec turnserver -c \/tmp\/turnserver\.conf$/);
    const template = read('deploy/turnserver.conf');
    expect(template).toMatch(/^static-auth-secret=@TURN_SECRET@$/m);
    expect(template).toMatch(/^realm=@TURN_REALM@$/m);
  });

  it('keeps coturn from relaying into private networks: the same denied-peer-ip list as docs/calls.md', () => {
    const denied = (text: string) => text.split('\n').filter((line) => line.startsWith('denied-peer-ip='));
    expect(denied(read('deploy/turnserver.conf'))).toEqual(denied(read('docs/calls.md')));
    expect(denied(read('deploy/turnserver.conf')).length).toBeGreaterThan(10);
    expect(read('deploy/turnserver.conf')).not.toMatch(/^allow-loopback-peers/m);
  });
});

describe('deploy/healthcheck.js (the image HEALTHCHECK)', () => {
  it('reports a ready server healthy and a stopped one unhealthy', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-healthcheck-'));
    const env = { ...process.env, PARLEY_DATA_DIR: dataDir, PARLEY_HOST: '127.0.0.1', PARLEY_PORT: '0' };
    const child = spawn(process.execPath, [path.join(root, 'packages/server/bin/parley.js'), 'start'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const port = await new Promise<string>((resolve, reject) => {
      // The banner comes on stderr, the JSON logs on stdout.
      const onOutput = (chunk: Buffer) => {
        output += chunk.toString();
        const found = /Parley is listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
        if (found) resolve(found);
      };
      child.stdout.on('data', onOutput);
      child.stderr.on('data', onOutput);
      child.once('exit', () => {
        reject(new Error(`the server exited before listening:\n${output}`));
      });
    });
    const check = () =>
      run(process.execPath, [path.join(root, 'deploy/healthcheck.js')], {
        env: { ...env, PARLEY_PORT: port },
      }).then(
        () => 0,
        (error: unknown) => (error as { code: number }).code,
      );
    try {
      expect(await check()).toBe(0);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'close');
      rmSync(dataDir, { recursive: true, force: true });
    }
    expect(await check()).toBe(1);
  });
});

/** Runs `suite` where systemd-analyze exists; with CI=true its absence fails (.ci/run installs systemd). */
function describeSystemd(title: string, suite: () => void): void {
  if (existsSync('/usr/bin/systemd-analyze')) {
    describe(title, suite);
  } else if (process.env.CI === 'true') {
    describe(title, () => {
      it('has systemd-analyze installed (CI=true)', () => {
        throw new Error('CI=true and /usr/bin/systemd-analyze is missing (apt-get install -y systemd)');
      });
    });
  } else {
    process.stdout.write('SKIPPING the systemd unit checks: /usr/bin/systemd-analyze not found\n');
    describe.skip(title, suite);
  }
}

describeSystemd('deploy/parley.service', () => {
  const unit = read('deploy/parley.service');

  /**
   * `systemd-analyze verify` also checks that ExecStart's program exists: verify a copy whose ExecStart names
   * this machine's node and this checkout's CLI. Exit 0 and no output, because unknown keys are only warned.
   */
  async function verify(text: string): Promise<{ code: number; output: string }> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-unit-'));
    const file = path.join(dir, 'parley.service');
    writeFileSync(
      file,
      text.replace(
        /^ExecStart=\S+ \S+/m,
        `ExecStart=${process.execPath} ${path.join(root, 'packages/server/bin/parley.js')}`,
      ),
    );
    try {
      const { stdout, stderr } = await run('systemd-analyze', ['verify', file]);
      return { code: 0, output: stdout + stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, output: failed.stdout + failed.stderr };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('passes systemd-analyze verify without a warning', async () => {
    expect(await verify(unit)).toEqual({ code: 0, output: '' });
  });

  it('would be caught by that check with a misspelt hardening option (the check can fail)', async () => {
    const result = await verify(unit.replace('ProtectHome=yes', 'ProtectHomes=yes'));
    expect(result.output).toContain("Unknown key 'ProtectHomes'");
  });

  it('keeps its hardening: no capabilities, read-only system, only the data directory writable', async () => {
    const directives = unit.split('\n').filter((line) => /^\w+=/.test(line));
    expect(directives).toEqual(
      expect.arrayContaining([
        'User=parley',
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
        'ProtectHome=yes',
        'PrivateTmp=yes',
        'PrivateDevices=yes',
        'ReadWritePaths=/var/lib/parley',
        'Environment=PARLEY_DATA_DIR=/var/lib/parley',
        'CapabilityBoundingSet=',
        'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
        'SystemCallFilter=@system-service',
        'LockPersonality=yes',
        'RestrictNamespaces=yes',
        'UMask=0077',
      ]),
    );
    // V8's JIT needs writable-then-executable memory: Node.js does not start with it.
    expect(directives.filter((line) => line.startsWith('MemoryDenyWriteExecute='))).toEqual([]);
    expect(directives.filter((line) => line.startsWith('AmbientCapabilities='))).toEqual([]);
    // systemd's own score, 0 (locked down) to 10 (exposed): at most 2.0.
    await expect(
      run('systemd-analyze', [
        'security',
        '--offline=true',
        '--threshold=20',
        path.join(root, 'deploy/parley.service'),
      ]),
    ).resolves.toBeDefined();
  });
});
