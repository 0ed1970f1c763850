import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { INCOMPLETE_PREFIX } from './archive-writer.ts';
import { listBackups } from './backup-reader.ts';
import type { ManifestBody } from './backup-manifest.ts';

const DAY_MS = 24 * 3600 * 1000;
/** An unfinished backup this old is not being written any more (a backup takes minutes, not a day). */
const STALE_INCOMPLETE_MS = DAY_MS;

export interface RetentionPlan {
  keep: string[];
  delete: string[];
}

/**
 * Which complete backups to keep: those younger than `retentionDays`, and the newest one whatever its age
 * (a server whose backups stopped must not end up with none), plus every backup one of those needs to be
 * restored — its parent, its parent's parent, … up to the full backup of its chain. An incremental holds only
 * the pages changed since its parent, so deleting any ancestor would make it useless.
 */
export function planRetention(
  manifests: readonly ManifestBody[],
  now: number,
  retentionDays: number,
): RetentionPlan {
  const byId = new Map(manifests.map((manifest) => [manifest.id, manifest]));
  const cutoff = now - retentionDays * DAY_MS;
  const newest = [...manifests].sort((a, b) => a.createdAt.localeCompare(b.createdAt)).at(-1);
  const kept = new Set<string>();
  for (const manifest of manifests) {
    if (Date.parse(manifest.createdAt) < cutoff && manifest !== newest) continue;
    let current: ManifestBody | undefined = manifest;
    while (current && !kept.has(current.id)) {
      kept.add(current.id);
      current = current.parentId === null ? undefined : byId.get(current.parentId);
    }
  }
  return {
    keep: manifests.filter((manifest) => kept.has(manifest.id)).map((manifest) => manifest.id),
    delete: manifests.filter((manifest) => !kept.has(manifest.id)).map((manifest) => manifest.id),
  };
}

/**
 * Applies the retention plan to `backupDir`, and removes unfinished backups older than a day. Unreadable
 * backup directories are left alone for the operator to look at. Answers the ids deleted.
 */
export async function pruneBackups(backupDir: string, now: number, retentionDays: number): Promise<string[]> {
  const listed = await listBackups(backupDir);
  const manifests = listed.flatMap((entry) => (entry.status === 'complete' ? [entry.manifest] : []));
  const plan = planRetention(manifests, now, retentionDays);
  for (const id of plan.delete) await rm(path.join(backupDir, id), { recursive: true, force: true });
  for (const entry of listed) {
    if (entry.status !== 'incomplete') continue;
    const dir = path.join(backupDir, `${INCOMPLETE_PREFIX}${entry.id}`);
    const modified = await stat(dir).then(
      (found) => found.mtimeMs,
      () => now,
    );
    if (now - modified > STALE_INCOMPLETE_MS) await rm(dir, { recursive: true, force: true });
  }
  return plan.delete;
}
