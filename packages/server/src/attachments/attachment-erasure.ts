import type { Storage, TenantTx } from '../storage/database.ts';
import { attachmentStore } from './attachment-store.ts';

/**
 * The attachments side of erasing a user (GDPR Art. 17): every file the user uploaded is erased for good —
 * its sealed chunks, content key and name deleted — as its uploader's own removal does; a message that still
 * shows it keeps a `removed` tombstone without anything sealed. Unfinished uploads go entirely. Done in
 * batches; a repeated batch finds nothing left (removed tombstones hold nothing to erase).
 */
export function createAttachmentErasure(deps: { storage: Storage }) {
  const { storage } = deps;
  return {
    /** Erases up to `limit` of the uploader's files still holding content; returns how many. */
    async eraseBatch(tx: TenantTx, tenantId: string, uploaderId: string, limit: number): Promise<number> {
      const rows = await tx
        .selectFrom('attachments')
        .select(['id', 'status'])
        .where('tenant_id', '=', tenantId)
        .where('uploader_id', '=', uploaderId)
        .where('status', '!=', 'removed')
        .orderBy('id')
        .limit(limit)
        .execute();
      for (const { id } of rows) {
        // Locked first, in id order: a message deletion releasing the same file takes turns with this.
        const row = await attachmentStore.lock(tx, tenantId, id, storage.dialect);
        if (!row || row.status === 'removed') continue;
        if (row.status === 'uploading') await attachmentStore.remove(tx, tenantId, id);
        else await attachmentStore.erase(tx, tenantId, id);
      }
      return rows.length;
    },

    /**
     * Erases these files (retention: they expired), each as the uploader's removal does: content, key and name
     * gone; a tombstone stays only while a live message shows it. Returns how many held content.
     */
    async eraseIds(tx: TenantTx, tenantId: string, ids: readonly string[]): Promise<number> {
      let erased = 0;
      for (const id of [...ids].sort()) {
        const row = await attachmentStore.lock(tx, tenantId, id, storage.dialect);
        if (!row || row.status === 'removed') continue;
        if (row.status === 'uploading') await attachmentStore.remove(tx, tenantId, id);
        else await attachmentStore.erase(tx, tenantId, id);
        erased += 1;
      }
      return erased;
    },
  };
}

export type AttachmentErasure = ReturnType<typeof createAttachmentErasure>;
