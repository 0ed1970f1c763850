import type { Clock } from '../clock.ts';
import type { Storage } from '../storage/database.ts';
import { attachmentStore } from './attachment-store.ts';

/** An upload still unfinished after this long was abandoned (its node died, or its client went away). */
export const ABANDONED_UPLOAD_MS = 24 * 3600 * 1000;
const PER_TENANT_PASS = 200;

/**
 * Removes abandoned uploads: a node that dies mid-upload never deletes the chunks it stored, and no message
 * can ever share them (only complete attachments can be shared). One short transaction per tenant.
 */
export function createAttachmentSweeper(deps: { storage: Storage; clock: Clock }) {
  const { storage, clock } = deps;
  return {
    async sweepAbandoned(): Promise<number> {
      const tenants = await storage.withSystem((tx) => tx.selectFrom('tenants').select('id').execute());
      let removed = 0;
      for (const { id: tenantId } of tenants) {
        removed += await storage.withTenant(tenantId, async (tx) => {
          const stale = await tx
            .selectFrom('attachments')
            .select('id')
            .where('tenant_id', '=', tenantId)
            .where('status', '=', 'uploading')
            .where('created_at', '<', clock.now() - ABANDONED_UPLOAD_MS)
            .limit(PER_TENANT_PASS)
            .execute();
          for (const row of stale) await attachmentStore.remove(tx, tenantId, row.id);
          return stale.length;
        });
      }
      return removed;
    },
  };
}

export type AttachmentSweeper = ReturnType<typeof createAttachmentSweeper>;
