import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync, chownSync } from 'node:fs';
import path from 'node:path';
import { BackupError } from './backup-error.ts';
import type { ClusterOwner } from './pgbackrest-runner.ts';

/** A PostgreSQL server on a trial restore: reachable only through a socket in a private directory. */
export interface TrialCluster {
  /** A connection URL through the private socket, as `user`. */
  url(user: string, database: string): string;
  stop(): Promise<void>;
}

/** Debian's server binary for the restored cluster's major version (its `PG_VERSION`). */
function postgresBinary(dataDir: string): string {
  const version = readFileSync(path.join(dataDir, 'PG_VERSION'), 'utf8').trim();
  const binary = `/usr/lib/postgresql/${version}/bin/postgres`;
  if (!existsSync(binary)) {
    throw new BackupError('backup_unsupported', `no PostgreSQL ${version} server binary at ${binary}`);
  }
  return binary;
}

/**
 * Starts PostgreSQL on a trial restore (as the cluster's owner when Parley is root) with no TCP listener, its
 * socket in `socketDir` (private to the owner), `trust` for that socket only (an hba file of its own: the
 * restored one may ask for passwords or peer identity Parley does not have), no archiving (the trial must not
 * push WAL into the repository), and waits until recovery ended and it accepts connections.
 */
export async function startTrialCluster(
  dataDir: string,
  socketDir: string,
  owner: ClusterOwner | undefined,
): Promise<TrialCluster> {
  const hbaFile = path.join(socketDir, 'trial-hba.conf');
  writeFileSync(hbaFile, 'local all all trust\n', { mode: 0o600 });
  if (owner) chownSync(hbaFile, owner.uid, owner.gid);
  const settings = {
    listen_addresses: '',
    unix_socket_directories: socketDir,
    hba_file: hbaFile,
    archive_mode: 'off',
    port: '5432',
  };
  const child = spawn(
    postgresBinary(dataDir),
    ['-D', dataDir, ...Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`])],
    {
      cwd: '/',
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    },
  );
  let log = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
      if (log.includes('database system is ready to accept connections')) resolve();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const fatal = /FATAL: {2}([^\n]*)/.exec(log)?.[1];
      reject(
        new BackupError(
          'backup_failed',
          `PostgreSQL did not start on the trial restore (exit ${String(code)}${fatal ? `: ${fatal}` : ''})`,
        ),
      );
    });
  });
  return {
    url: (user, database) =>
      `postgres://${encodeURIComponent(user)}@localhost/${encodeURIComponent(database)}?host=${encodeURIComponent(socketDir)}&port=5432`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      await exited;
    },
  };
}
