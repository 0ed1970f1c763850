import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../../..');
const parleyBin = path.join(root, 'packages/server/bin/parley.js');

/**
 * A `node --import` preload whose resolve hook refuses tsx and any TypeScript source: a process that runs
 * with it loads only compiled JavaScript, or fails naming the module it tried.
 */
const refuseTypeScript = (() => {
  const hooks = `export async function resolve(specifier, context, next) {
    const resolved = await next(specifier, context);
    if (/\\/node_modules\\/tsx\\/|\\.[cm]?ts$/.test(resolved.url)) {
      throw new Error('TypeScript at run time: ' + resolved.url);
    }
    return resolved;
  }`;
  const hooksUrl = `data:text/javascript,${encodeURIComponent(hooks)}`;
  const preload = `import { register } from 'node:module'; register(${JSON.stringify(hooksUrl)});`;
  return `data:text/javascript,${encodeURIComponent(preload)}`;
})();

async function runNode(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('the compiled CLI', () => {
  it('runs `parley --help` from dist with plain node, loading neither tsx nor a TypeScript source', async () => {
    const result = await runNode(['--import', refuseTypeScript, parleyBin, '--help']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: parley');
    for (const command of ['start', 'migrate', 'tenant', 'keys', 'audit', 'search', 'config']) {
      expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    expect(readFileSync(parleyBin, 'utf8')).not.toMatch(/tsx|\.ts'/);
  });

  it('prints the version from the package manifest', async () => {
    const manifest = JSON.parse(readFileSync(path.join(root, 'packages/server/package.json'), 'utf8')) as {
      version: string;
    };
    const result = await runNode(['--import', refuseTypeScript, parleyBin, '--version']);
    expect(result).toMatchObject({ code: 0, stdout: `${manifest.version}\n` });
  });

  it('has a guard that does refuse tsx (so the first test can fail)', async () => {
    const result = await runNode(['--import', refuseTypeScript, '--import', 'tsx', '-e', '0']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('TypeScript at run time:');
  });

  it('says how to build, and exits 1, when the compiled server is missing', async () => {
    const unbuilt = mkdtempSync(path.join(os.tmpdir(), 'parley-unbuilt-'));
    mkdirSync(path.join(unbuilt, 'bin'));
    copyFileSync(parleyBin, path.join(unbuilt, 'bin/parley.js'));
    const result = await runNode([path.join(unbuilt, 'bin/parley.js'), '--help']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('the compiled server is missing');
    expect(result.stderr).toContain('npm run build');
  });

  it('is what `npm start` runs, after the build, and tsx is no production dependency', () => {
    const rootManifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const serverManifest = JSON.parse(
      readFileSync(path.join(root, 'packages/server/package.json'), 'utf8'),
    ) as {
      dependencies: Record<string, string>;
      bin: Record<string, string>;
    };
    expect(rootManifest.scripts.build).toBe('tsc -b && npm run build -w packages/console');
    // The build without its type check: a type error is `npm run check`'s and CI's to report, not a reason
    // for the quick start to refuse to start.
    // Then the console's Vite build (a second or so), so `npm start` serves /console/ too.
    expect(rootManifest.scripts.start).toBe(
      'tsc -b --noCheck && npm run build -w packages/console && node packages/server/bin/parley.js start',
    );
    expect(serverManifest.bin).toEqual({ parley: './bin/parley.js' });
    expect(Object.keys(serverManifest.dependencies)).not.toContain('tsx');
  });
});
