import { hostname } from 'node:os';
import type { Clock } from '../../clock.ts';
import type { Storage } from '../../storage/database.ts';
import type { SigningKeys } from '../../crypto/signing-keys.ts';
import {
  type AnchorFileContents,
  type AnchorFileMark,
  type AuditAnchor,
  AuditAnchorFile,
} from './audit-anchor-file.ts';
import { type AnchorWebhook, createAnchorWebhook } from './audit-anchor-webhook.ts';
import { GENESIS_HASH } from './audit-entry.ts';
import { auditStore } from './audit-store.ts';

/** What is wrong with the anchor file as a whole, judged against the mark the database recorded. */
export type AnchorFileFinding =
  | { line: number; reason: NonNullable<AnchorFileContents['problem']>['reason'] }
  /** The database recorded more lines for this file than it has: its tail was cut. */
  | { line: number; reason: 'anchor file truncated' }
  /** The line the database recorded hashes differently now: the file was rewritten. */
  | { line: number; reason: 'anchor file rewritten' }
  /**
   * The database recorded a file at this path on this host, and this is another one (or none): the file was
   * deleted or replaced, also when a new file has been started and marked since. Starting a new file on
   * purpose (after damage) means deleting the old file's mark from `parley_meta` (see docs/security.md).
   */
  | { line: 0; reason: 'anchor file replaced' };

interface StoredMark extends AnchorFileMark {
  file: string;
  host: string;
}

const markKey = (fileId: string) => `audit_anchor_mark:${fileId}`;

/**
 * Pins each chain's newest signed checkpoint outside the database. Anchors are written only for committed
 * checkpoints (never inside the transaction that makes one: a rolled-back checkpoint would look like a cut
 * chain), by the checkpoint job after each pass and right after a tenant is created. A chain without a
 * checkpoint is anchored at seq 0, so even an empty chain is on record.
 */
export class AuditAnchors {
  /** Highest seq anchored per chain by this process; after a restart each chain is anchored once again. */
  readonly #anchored = new Map<string, number>();

  constructor(
    private readonly deps: { file: AuditAnchorFile; clock: Clock; webhook?: AnchorWebhook | undefined },
  ) {}

  get file(): string {
    return this.deps.file.file;
  }

  /** Anchors each chain's newest checkpoint not anchored yet; one fsync for all. Answers how many. */
  async anchor(storage: Storage, tenantIds: readonly string[]): Promise<number> {
    const due: AuditAnchor[] = [];
    for (const tenantId of tenantIds) {
      const last = await storage.withTenant(tenantId, (tx) => auditStore.lastCheckpoint(tx, tenantId));
      const anchor = last
        ? { tenantId, seq: last.seq, hash: last.hash }
        : { tenantId, seq: 0, hash: GENESIS_HASH };
      const known = this.#anchored.get(tenantId);
      if (known === undefined || anchor.seq > known) due.push(anchor);
    }
    if (due.length === 0) return 0;
    const { lines, mark } = this.deps.file.append(due, this.deps.clock.now());
    for (const anchor of due) this.#anchored.set(anchor.tenantId, anchor.seq);
    await recordMark(storage, { ...mark, file: this.file, host: hostname() });
    this.deps.webhook?.send(lines);
    return due.length;
  }

  /** Reads the file and checks it against the mark the database holds for it. */
  async read(storage: Storage): Promise<{ contents: AnchorFileContents; finding?: AnchorFileFinding }> {
    const contents = await this.deps.file.read();
    if (contents.problem) return { contents, finding: contents.problem };
    const marks = await readMarks(storage);
    const mine = marks.filter((mark) => mark.file === this.file && mark.host === hostname());
    const current = contents.mark;
    // A mark of another file at this path on this host: that file was deleted or replaced, even when a new
    // one has been started (and marked) in its place since.
    if (mine.some((mark) => mark.fileId !== current?.fileId)) {
      return { contents, finding: { line: 0, reason: 'anchor file replaced' } };
    }
    const same = mine.find((mark) => mark.fileId === current?.fileId);
    if (!same) return { contents };
    if (same.line > (current?.line ?? 0)) {
      return { contents, finding: { line: (current?.line ?? 0) + 1, reason: 'anchor file truncated' } };
    }
    if (contents.lineHashes[same.line] !== same.hash) {
      return { contents, finding: { line: same.line, reason: 'anchor file rewritten' } };
    }
    return { contents };
  }

  async idle(): Promise<void> {
    await this.deps.webhook?.idle();
  }
}

/**
 * Keeps the highest line this file reached in the database, so a file cut back on disk alone shows. Only
 * ever raised: two processes appending to one file may record their marks out of order.
 */
async function recordMark(storage: Storage, mark: StoredMark): Promise<void> {
  await storage.withSystem(async (tx) => {
    const key = markKey(mark.fileId);
    const row = await tx.selectFrom('parley_meta').select('value').where('key', '=', key).executeTakeFirst();
    if (row && (JSON.parse(row.value) as StoredMark).line >= mark.line) return;
    const value = JSON.stringify(mark);
    await tx
      .insertInto('parley_meta')
      .values({ key, value })
      .onConflict((conflict) => conflict.column('key').doUpdateSet({ value }))
      .execute();
  });
}

async function readMarks(storage: Storage): Promise<StoredMark[]> {
  const rows = await storage.withSystem((tx) =>
    tx
      .selectFrom('parley_meta')
      .select(['key', 'value'])
      .where('key', 'like', `${markKey('')}%`)
      .execute(),
  );
  // `_` is a LIKE wildcard: keep the exact prefix only.
  return rows
    .filter((row) => row.key.startsWith(markKey('')))
    .map((row) => JSON.parse(row.value) as StoredMark);
}

/** Builds the anchors from the configuration: the file, and the webhook copy when a URL is set. */
export function openAuditAnchors(options: {
  file: string;
  webhookUrl?: string | undefined;
  signingKeys: Pick<SigningKeys, 'sign' | 'verify' | 'currentKeyId'>;
  clock: Clock;
  /** A webhook batch given up on after every retry; log it (without the body: it is public anyway). */
  onWebhookGiveUp?: (error: unknown) => void;
}): AuditAnchors {
  const webhook =
    options.webhookUrl === undefined
      ? undefined
      : createAnchorWebhook({
          url: options.webhookUrl,
          onGiveUp: options.onWebhookGiveUp ?? (() => undefined),
        });
  return new AuditAnchors({
    file: new AuditAnchorFile(options.file, options.signingKeys),
    clock: options.clock,
    webhook,
  });
}
