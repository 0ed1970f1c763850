import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/** Where a data directory's snapshots and trial restores go: beside the database they copy, mode 0700. */
export const backupWorkDir = (dataDir: string): string => path.join(dataDir, '.backup-work');

const OWNED = /^(?:snapshot|verify)-(\d+)-/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A fresh path in the work dir for `purpose`, named after this process. What a process killed mid-backup
 * or mid-verify left there (a plaintext copy of the database) is removed first: its pid no longer runs.
 */
export async function workPath(workDir: string, purpose: 'snapshot' | 'verify'): Promise<string> {
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  for (const name of await readdir(workDir)) {
    const pid = Number(OWNED.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) {
      await rm(path.join(workDir, name), { recursive: true, force: true });
    }
  }
  return path.join(workDir, `${purpose}-${process.pid}-${randomBytes(6).toString('hex')}`);
}
