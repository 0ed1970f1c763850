import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../../..');
const packages = ['protocol', 'client', 'server'];
/** SHA-256 of the Apache License 2.0 as published at apache.org/licenses/LICENSE-2.0.txt. */
const APACHE_2_SHA256 = 'cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30';

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');
const readJson = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(root, file), 'utf8')) as Record<string, unknown>;

describe('npm run release', () => {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'parley-release-'));
  let printed = '';

  beforeAll(async () => {
    // The test setup has just built dist/ (compiled-build.ts); `npm run release` alone also runs the build.
    const { stdout } = await run(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'scripts/release.ts', '--out', outDir, '--skip-build'],
      { cwd: root },
    );
    printed = stdout;
  });
  afterAll(() => {
    rmSync(outDir, { recursive: true, force: true });
  });

  it('packs each publishable package and writes SHA256SUMS that matches the tarballs', () => {
    const tarballs = readdirSync(outDir)
      .filter((name) => name.endsWith('.tgz'))
      .sort();
    const versions = packages.map((name) => readJson(`packages/${name}/package.json`).version as string);
    expect(tarballs).toEqual(packages.map((name, index) => `parley-${name}-${versions[index]}.tgz`).sort());
    const sums = readFileSync(path.join(outDir, 'SHA256SUMS'), 'utf8');
    const lines = sums.trimEnd().split('\n');
    expect(lines).toHaveLength(tarballs.length);
    for (const line of lines) {
      const [hash, name] = line.split('  ');
      expect(tarballs).toContain(name);
      expect(hash).toBe(sha256(readFileSync(path.join(outDir, name ?? ''))));
    }
    expect(printed).toContain(sums.trimEnd());
  });

  it('ships the compiled server, its CLI and the licence, and no TypeScript sources or tests', async () => {
    const version = readJson('packages/server/package.json').version as string;
    const { stdout } = await run('tar', ['-tzf', path.join(outDir, `parley-server-${version}.tgz`)]);
    const files = stdout.trim().split('\n');
    for (const expected of ['package/package.json', 'package/bin/parley.js', 'package/dist/src/main.js']) {
      expect(files).toContain(expected);
    }
    expect(files).toEqual(expect.arrayContaining(['package/LICENSE', 'package/NOTICE']));
    expect(files.filter((file) => /\.ts$/.test(file) && !file.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((file) => file.includes('/test/'))).toEqual([]);
  });
});

describe('licence', () => {
  it('is the Apache License 2.0, verbatim, at the root and in every package', () => {
    expect(sha256(readFileSync(path.join(root, 'LICENSE')))).toBe(APACHE_2_SHA256);
    for (const name of packages) {
      expect(readFileSync(path.join(root, `packages/${name}/LICENSE`), 'utf8')).toBe(
        readFileSync(path.join(root, 'LICENSE'), 'utf8'),
      );
      expect(readFileSync(path.join(root, `packages/${name}/NOTICE`), 'utf8')).toBe(
        readFileSync(path.join(root, 'NOTICE'), 'utf8'),
      );
    }
  });

  it('is declared as Apache-2.0 in every package.json', () => {
    for (const file of ['package.json', ...packages.map((name) => `packages/${name}/package.json`)]) {
      expect({ file, license: readJson(file).license }).toEqual({ file, license: 'Apache-2.0' });
    }
  });
});
