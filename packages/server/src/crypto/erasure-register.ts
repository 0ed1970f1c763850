import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { ErasureMessagePolicy } from '@parley/protocol';
import { ensurePrivateDir } from '../bootstrap/data-dir.ts';
import type { Storage } from '../storage/database.ts';

export interface ErasureEntry {
  tenantId: string;
  userId: string;
  at: number;
  /**
   * Set when the whole account was erased (compliance/gdpr/erasure-service.ts), not only its key: at start-up
   * everything of the user a restored database holds again (messages by this policy, files, search entries,
   * sessions, …) is erased again before the server serves anything.
   */
  erasureId?: string;
  messagePolicy?: ErasureMessagePolicy;
  /**
   * The blind index (HMAC under the tenant's index key) of the account's e-mail address, so mail to it in the
   * embedded outbox of a restored database can be found again once the account row lost it.
   */
  emailIndex?: string;
}

/** A register entry of a whole-account erasure. */
export type FullErasureEntry = ErasureEntry & Required<Pick<ErasureEntry, 'erasureId' | 'messagePolicy'>>;

/**
 * Crypto-shredding must reach backups too, but a database restored from a backup taken before an erasure
 * holds the erased user's wrapped key again. So every erasure is also appended to this register, kept
 * outside the database beside the master key (and, like it, outside database backups); at start-up the
 * register is applied again, destroying any key a restore brought back. Append-only JSON lines, fsynced.
 */
export class ErasureRegister {
  constructor(private readonly file: string) {}

  record(entry: ErasureEntry): void {
    ensurePrivateDir(path.dirname(this.file));
    const fd = openSync(this.file, 'a', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(entry)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  entries(): ErasureEntry[] {
    if (!existsSync(this.file)) return [];
    return readFileSync(this.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((line) => {
        // A line torn by a crash during its append was never fsynced, so its erasure never went ahead.
        try {
          return [JSON.parse(line) as ErasureEntry];
        } catch {
          return [];
        }
      });
  }

  /** The whole-account erasures, the newest entry per user. */
  fullErasures(): FullErasureEntry[] {
    const byUser = new Map<string, FullErasureEntry>();
    for (const entry of this.entries()) {
      if (entry.erasureId === undefined || entry.messagePolicy === undefined) continue;
      byUser.set(`${entry.tenantId}/${entry.userId}`, entry as FullErasureEntry);
    }
    return [...byUser.values()];
  }

  /** Re-destroys every registered user key the database holds again (after a restore). Returns how many. */
  async reapply(storage: Storage): Promise<number> {
    let revived = 0;
    for (const { tenantId, userId, at } of this.entries()) {
      revived += await storage.withTenant(tenantId, async (tx) => {
        const destroyed = await tx
          .updateTable('user_keys')
          .set({ wrapped_key: null, destroyed_at: at })
          .where('tenant_id', '=', tenantId)
          .where('user_id', '=', userId)
          .where('wrapped_key', 'is not', null)
          .returning('user_id')
          .execute();
        if (destroyed.length === 0) return 0;
        await tx
          .updateTable('users')
          .set({ status: 'erased', email_index: null, phone_index: null })
          .where('tenant_id', '=', tenantId)
          .where('id', '=', userId)
          .execute();
        return destroyed.length;
      });
    }
    return revived;
  }
}
