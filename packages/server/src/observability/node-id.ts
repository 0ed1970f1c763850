import { randomBytes } from 'node:crypto';
import os from 'node:os';

/**
 * The name of this node in log lines: `PARLEY_NODE_ID` when set, else the host name (a container's is its
 * id) and a random suffix, so two processes on one host and a restarted process are told apart.
 */
export function nodeIdOf(configured: string | undefined): string {
  if (configured !== undefined) return configured;
  const host =
    os
      .hostname()
      .replace(/[^A-Za-z0-9.-]/g, '')
      .slice(0, 48) || 'node';
  return `${host}-${randomBytes(3).toString('hex')}`;
}
