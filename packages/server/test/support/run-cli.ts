import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const parleyBin = path.resolve(import.meta.dirname, '../../bin/parley.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `parley <args>` as a real process with the given environment on top of this one. */
export async function parley(args: string[], env: Record<string, string>): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [parleyBin, ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
