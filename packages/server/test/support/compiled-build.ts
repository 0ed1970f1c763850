import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../../..');
const compiledMain = path.join(root, 'packages/server/dist/src/main.js');

/**
 * Tests that spawn `bin/parley.js` run the compiled server, as production does, so the run starts by
 * bringing dist/ up to date: `tsc -b packages/server` (and what it references), incremental, and with
 * `--noCheck` because type errors are `npm run check`'s and CI's `npm run build`'s to report. The emitted
 * JavaScript is the same (isolatedModules); nothing changed costs about a second, a changed source some 15 s.
 */
export default async function setup(): Promise<void> {
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  try {
    await run(process.execPath, [tsc, '-b', 'packages/server', '--noCheck'], { cwd: root });
  } catch (error) {
    const { stdout } = error as { stdout?: string };
    process.stdout.write(
      `tsc -b packages/server --noCheck failed; the CLI tests run what it emitted:\n${stdout ?? ''}\n`,
    );
  }
  if (!existsSync(compiledMain)) throw new Error(`the build did not produce ${compiledMain}`);
}
