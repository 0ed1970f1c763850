import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { erasureCounts } from '@parley/protocol';
import { sql } from 'kysely';
import { z } from 'zod';
import type { AttachmentErasure } from '../../attachments/attachment-erasure.ts';
import type { Clock } from '../../clock.ts';
import type { SecurityCore } from '../../crypto/security-core.ts';
import type { SessionService } from '../../identity/sessions/session-service.ts';
import type { MessageErasure } from '../../messaging/message-erasure.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { certificateOf, signCertificate, zeroCounts } from './erasure-certificate.ts';
import { type ErasureRow, erasureStore } from './erasure-store.ts';
import { erasureSweepStore } from './erasure-sweep-store.ts';
import { vacuumAfterErasure } from './erasure-vacuum.ts';
import type { DsrService } from './dsr-service.ts';

/**
 * How long the final sweep waits after the sessions ended: a send that had passed its checks before (an HTTP
 * request in its handler, a frame in the commit batcher) commits well within it.
 */
export const ERASURE_SETTLE_MS = 2000;

/** Rows of one kind erased per transaction: short transactions, so sends and reads of others go on. */
const BATCH = 200;
const SYSTEM = { actor: { type: 'system' as const }, context: {} };

/**
 * Where an erasure stands, committed with each batch: the step, the keyset position within it, what it
 * counted so far, when the sessions ended, and the random id reactions move to. Ids and counts only.
 */
export const erasureProgress = z.object({
  step: z.number().int().min(0),
  cursor: z.string().nullable(),
  counts: erasureCounts,
  revokedAt: z.number().nullable(),
  ghostId: z.string(),
});
export type ErasureProgress = z.infer<typeof erasureProgress>;

export const freshProgress = (): ErasureProgress => ({
  step: 0,
  cursor: null,
  counts: zeroCounts(),
  revokedAt: null,
  ghostId: randomUUID(),
});

export interface ErasureStepDeps {
  storage: Storage;
  clock: Clock;
  audit: AuditLog;
  security: Pick<SecurityCore, 'keyring' | 'fieldCipher' | 'blindIndex' | 'signingKeys'>;
  sessions: Pick<SessionService, 'endUserSessionsIn' | 'announceEnded'>;
  dsr: Pick<DsrService, 'transitionIn'>;
  messages: MessageErasure;
  attachments: AttachmentErasure;
  /**
   * How long after the sessions ended the final sweep waits, so a send that was already past its checks
   * when the session ended has committed before the sweep looks (docs/privacy.md, "Erasure").
   */
  settleMs: number;
}

/** One run of an erasure: by the job after the grace period, or at start-up from the erasure register. */
export interface ErasureRun {
  tenantId: string;
  erasureId: string;
  /** Commits the progress in `tx` (the job's checkpoint); a start-up run keeps it in memory only. */
  checkpoint(progress: ErasureProgress, tx: TenantTx): Promise<void>;
  signal?: AbortSignal | undefined;
  /** The blind index of the account's address, from the register, when the database lost it already. */
  emailIndex?: string | undefined;
  /** Start-up runs: no send can be under way, so the final sweep need not wait. */
  settled?: boolean;
}

type Outcome = 'cancelled' | 'completed';
type Step = (run: ErasureRun, row: ErasureRow, progress: ErasureProgress) => Promise<ErasureProgress | null>;

/**
 * The steps of an erasure (GDPR Art. 17), each resumable from its checkpoint and safe to repeat: a step
 * either finishes (the next one starts with a fresh cursor) or commits a batch and its position together.
 * Order matters: sessions end first (nothing new is written by the user from then on), the mail outbox is
 * matched while the address's blind index still exists, the key is destroyed before the bulk of the work,
 * and the final sweep catches what a send in flight committed meanwhile.
 */
export function createErasureSteps(deps: ErasureStepDeps) {
  const { storage, clock, audit, security, sessions, dsr } = deps;
  const next = (progress: ErasureProgress): ErasureProgress => ({
    ...progress,
    step: progress.step + 1,
    cursor: null,
  });
  const add = (progress: ErasureProgress, more: Partial<ErasureProgress['counts']>): ErasureProgress => {
    const counts = { ...progress.counts };
    for (const [key, value] of Object.entries(more) as [keyof typeof counts, number][]) counts[key] += value;
    return { ...progress, counts };
  };

  /** Runs `work` in the tenant's transaction and commits the progress it returns with it. */
  const inBatch = (run: ErasureRun, work: (tx: TenantTx) => Promise<ErasureProgress>) =>
    storage.withTenant(run.tenantId, async (tx) => {
      const progress = await work(tx);
      await run.checkpoint(progress, tx);
      return progress;
    });

  /**
   * The blind index of the account's address: from its row while the row has it, else from the register (a
   * restored database whose keyring start-up cleared it already, or the second pass after the account step).
   */
  const emailIndexOf = async (run: ErasureRun, row: ErasureRow): Promise<string | undefined> => {
    const user = await storage.withTenant(run.tenantId, (tx) =>
      tx
        .selectFrom('users')
        .select('email_index')
        .where('tenant_id', '=', run.tenantId)
        .where('id', '=', row.user_id)
        .executeTakeFirst(),
    );
    if (user?.email_index != null) return user.email_index;
    if (run.emailIndex !== undefined) return run.emailIndex;
    return security.keyring.erasureRegister.entries().findLast((entry) => entry.erasureId === row.id)
      ?.emailIndex;
  };

  /** The account stops: status erased, every session ended (their sockets close once this commits). */
  const start: Step = async (run, row, progress) => {
    const emailIndex = await emailIndexOf(run, row);
    // Registered before anything is erased: a database restored from a backup older than this erasure is
    // erased again at start-up (erasure-service.ts, `reapplyRegister`).
    security.keyring.erasureRegister.record({
      tenantId: run.tenantId,
      userId: row.user_id,
      at: clock.now(),
      erasureId: row.id,
      messagePolicy: row.message_policy,
      ...(emailIndex === undefined ? {} : { emailIndex }),
    });
    let ended: string[] = [];
    const after = await inBatch(run, async (tx) => {
      const now = clock.now();
      await tx
        .updateTable('users')
        .set({ status: 'erased', updated_at: now })
        .where('tenant_id', '=', run.tenantId)
        .where('id', '=', row.user_id)
        .execute();
      ended = await sessions.endUserSessionsIn(tx, run.tenantId, row.user_id, 'erased', SYSTEM.actor);
      if (row.request_id !== null) {
        const request = await tx
          .selectFrom('data_subject_requests')
          .select('status')
          .where('tenant_id', '=', run.tenantId)
          .where('id', '=', row.request_id)
          .executeTakeFirst();
        if (request?.status === 'received')
          await dsr.transitionIn(tx, run.tenantId, row.request_id, { status: 'in_progress' }, SYSTEM);
      }
      await audit.append(tx, run.tenantId, {
        actor: SYSTEM.actor,
        action: 'privacy.erasure_started',
        target: { type: 'user', id: row.user_id },
        outcome: 'success',
        details: { erasureId: row.id, messagePolicy: row.message_policy, sessions: ended.length },
      });
      return { ...next(add(progress, { sessions: ended.length })), revokedAt: now };
    });
    await sessions.announceEnded(ended);
    return after;
  };

  /** Mail to the account's address kept in the embedded outbox (matched by the address's blind index). */
  const mail: Step = async (run, row, progress) => {
    const index = await emailIndexOf(run, row);
    if (index === undefined) return next(progress);
    return inBatch(run, async (tx) => {
      const page = await erasureSweepStore.outboxPage(tx, run.tenantId, progress.cursor, BATCH);
      const theirs: string[] = [];
      for (const mailRow of page) {
        const location = {
          tenantId: run.tenantId,
          table: 'mail_outbox',
          column: 'recipient',
          rowId: mailRow.id,
        };
        const recipient = await security.fieldCipher.open(tx, location, mailRow.recipient);
        if ((await security.blindIndex.compute(tx, run.tenantId, 'email', recipient)) === index)
          theirs.push(mailRow.id);
      }
      await erasureSweepStore.deleteMail(tx, run.tenantId, theirs);
      const counted = add(progress, { mail: theirs.length });
      return page.length < BATCH ? next(counted) : { ...counted, cursor: page.at(-1)?.id ?? null };
    });
  };

  /** Crypto-shredding and the account row: key destroyed, fields and credentials cleared, tokens gone. */
  const account: Step = (run, row, progress) =>
    inBatch(run, async (tx) => {
      const keyRow = await tx
        .selectFrom('user_keys')
        .select('wrapped_key')
        .where('tenant_id', '=', run.tenantId)
        .where('user_id', '=', row.user_id)
        .executeTakeFirst();
      await security.keyring.destroyUserKey(tx, run.tenantId, row.user_id);
      const profileFields = await erasureSweepStore.clearAccount(tx, run.tenantId, row.user_id, clock.now());
      const tokens = await erasureSweepStore.deleteTokens(tx, run.tenantId, row.user_id);
      // Counted here: erasing the messages releases most of these files before their own step comes.
      const attachments = await erasureSweepStore.filesHeld(tx, run.tenantId, row.user_id);
      await erasureSweepStore.clearSessionDevices(tx, run.tenantId, row.user_id);
      const consentStates = await erasureSweepStore.deleteRolesAndConsentStates(
        tx,
        run.tenantId,
        row.user_id,
      );
      return next(
        add(progress, {
          profileFields,
          tokens,
          consentStates,
          attachments,
          userKeys: keyRow?.wrapped_key == null ? 0 : 1,
        }),
      );
    });

  /** The user's messages, a batch per transaction (`onlyLive`: the final sweep's pass). */
  const messagesStep =
    (onlyLive: boolean): Step =>
    async (run, row, progress) => {
      let batch: Awaited<ReturnType<MessageErasure['eraseBatch']>> | undefined;
      const after = await inBatch(run, async (tx) => {
        batch = await deps.messages.eraseBatch(tx, {
          tenantId: run.tenantId,
          senderId: row.user_id,
          policy: row.message_policy,
          after: progress.cursor,
          limit: BATCH,
          onlyLive,
        });
        const counted = add(progress, {
          messagesErased: batch.erased,
          // Kept messages are counted once, on the first pass.
          messagesKept: onlyLive ? 0 : batch.kept,
          searchEntries: batch.searchEntries,
        });
        return batch.last === null ? next(counted) : { ...counted, cursor: batch.last };
      });
      if (batch) await deps.messages.announce(run.tenantId, batch);
      return after;
    };

  /** The user's files (`counted`: the sweep's pass, whose files were uploaded after the count was taken). */
  const attachmentsStep =
    (counted: boolean): Step =>
    (run, row, progress) =>
      inBatch(run, async (tx) => {
        const erased = await deps.attachments.eraseBatch(tx, run.tenantId, row.user_id, BATCH);
        const after = counted ? add(progress, { attachments: erased }) : progress;
        return erased < BATCH ? next(after) : after;
      });

  /** Reactions, memberships, blocks, call devices and export archives. */
  const relations: Step = (run, row, progress) =>
    inBatch(run, async (tx) => {
      const now = clock.now();
      const reactions = await erasureSweepStore.anonymiseReactions(
        tx,
        run.tenantId,
        row.user_id,
        progress.ghostId,
      );
      const { memberships, hidden } = await erasureSweepStore.leaveDialogs(
        tx,
        run.tenantId,
        row.user_id,
        now,
      );
      const blocks = await erasureSweepStore.deleteBlocks(tx, run.tenantId, row.user_id);
      const callDevices = await erasureSweepStore.clearCallDevices(tx, run.tenantId, row.user_id);
      const own = await erasureSweepStore.destroyExports(tx, run.tenantId, row.user_id, now);
      const correspondents =
        row.message_policy === 'erase'
          ? await destroyCorrespondentExports(tx, run.tenantId, row.user_id, now)
          : 0;
      const exports = own + correspondents;
      return next(
        add(progress, { reactions, memberships, hiddenMessages: hidden, blocks, callDevices, exports }),
      );
    });

  /**
   * Other people's export archives that hold the user's messages, which the `erase` policy erases for
   * everyone: destroyed, audited (reason `correspondent_erased`), and a build stopped half-way has its request
   * cancelled with an outcome telling its subject to ask again.
   */
  async function destroyCorrespondentExports(
    tx: TenantTx,
    tenantId: string,
    userId: string,
    now: number,
  ): Promise<number> {
    const destroyed = await erasureSweepStore.destroyCorrespondentExports(tx, tenantId, userId, now);
    for (const entry of destroyed) {
      const request =
        entry.status === 'running' && entry.request_id !== null
          ? await tx
              .selectFrom('data_subject_requests')
              .select(['id', 'status'])
              .where('tenant_id', '=', tenantId)
              .where('id', '=', entry.request_id)
              .executeTakeFirst()
          : undefined;
      // Closed already (by an administrator, say): left as it is.
      if (request !== undefined && (request.status === 'received' || request.status === 'in_progress'))
        await dsr.transitionIn(
          tx,
          tenantId,
          request.id,
          {
            status: 'cancelled',
            outcome:
              'The archive being built held messages of a person whose data was erased meanwhile, so it was destroyed. Ask for a new export.',
          },
          SYSTEM,
        );
      await audit.append(tx, tenantId, {
        actor: SYSTEM.actor,
        action: 'privacy.export_destroyed',
        target: { type: 'data_export', id: entry.id },
        outcome: 'success',
        details: { subjectId: entry.subject_id, reason: 'correspondent_erased' },
      });
    }
    return destroyed.length;
  }

  /** Waits out sends that were in flight when the sessions ended; the next steps sweep what they wrote. */
  const settle: Step = async (run, _row, progress) => {
    const wait = (progress.revokedAt ?? 0) + deps.settleMs - clock.now();
    if (!run.settled && wait > 0) await sleep(wait, undefined, { signal: run.signal });
    return inBatch(run, () => Promise.resolve(next(progress)));
  };

  /**
   * The account row once more: a socket that closed as the sessions ended records when it was last active
   * (presence), possibly after the account step cleared it.
   */
  const accountAgain: Step = (run, row, progress) =>
    inBatch(run, async (tx) => {
      await erasureSweepStore.clearAccount(tx, run.tenantId, row.user_id, clock.now());
      return next(progress);
    });

  /** The record: signed certificate, request completed, audit entry; then the WAL is truncated (SQLite). */
  const finish: Step = async (run, row, progress) => {
    const completedAt = clock.now();
    const certificate = certificateOf(row, progress.counts, completedAt);
    // Signing touches no database (the key is loaded at start-up): safe inside the transaction.
    const { signature, keyId } = signCertificate(security.signingKeys, certificate);
    await inBatch(run, async (tx) => {
      await erasureStore.update(tx, run.tenantId, row.id, {
        status: 'completed',
        completed_at: completedAt,
        certificate: JSON.stringify(certificate),
        signature,
        key_id: keyId,
        updated_at: completedAt,
      });
      if (row.request_id !== null) {
        const request = await tx
          .selectFrom('data_subject_requests')
          .select('status')
          .where('tenant_id', '=', run.tenantId)
          .where('id', '=', row.request_id)
          .executeTakeFirst();
        if (request?.status === 'received' || request?.status === 'in_progress')
          await dsr.transitionIn(
            tx,
            run.tenantId,
            row.request_id,
            { status: 'completed', outcome: `The account was erased (erasure ${row.id}).` },
            SYSTEM,
          );
      }
      await audit.append(tx, run.tenantId, {
        actor: SYSTEM.actor,
        action: 'privacy.user_erased',
        target: { type: 'user', id: row.user_id },
        outcome: 'success',
        details: { erasureId: row.id, source: row.source, ...progress.counts },
      });
      return next(progress);
    });
    // Old page images in the WAL still hold the erased rows' ciphertext until a checkpoint moves them out
    // and the file is truncated; with secure_delete on, the database file keeps no copy either.
    if (storage.dialect === 'sqlite') await sql`pragma wal_checkpoint(TRUNCATE)`.execute(storage.kysely);
    // PostgreSQL keeps old row versions in the heap pages until VACUUM removes them.
    await vacuumAfterErasure(storage);
    return null;
  };

  const steps: Step[] = [
    start,
    mail,
    account,
    messagesStep(false),
    attachmentsStep(false),
    relations,
    settle,
    messagesStep(true),
    attachmentsStep(true),
    accountAgain,
    // A reset or notice that read the address before the sessions ended may store its mail after the first
    // pass; `settle` waited it out. Kept just before `finish` so a resumed run's step numbers stay as they were.
    mail,
    finish,
  ];

  return {
    /**
     * Runs (or resumes) an erasure to its end. Resolves `cancelled` when it was cancelled before it started
     * (its grace period), `completed` when done (also when it was done already).
     */
    async run(run: ErasureRun, resumed: ErasureProgress | undefined): Promise<Outcome> {
      const row = await storage.withTenant(run.tenantId, async (tx) => {
        const found = await erasureStore.lock(tx, run.tenantId, run.erasureId, storage.dialect);
        if (found?.status === 'scheduled') {
          const now = clock.now();
          await erasureStore.update(tx, run.tenantId, found.id, {
            status: 'running',
            started_at: now,
            updated_at: now,
          });
          return { ...found, status: 'running' as const, started_at: now };
        }
        return found;
      });
      if (!row || row.status === 'cancelled') return 'cancelled';
      if (row.status === 'completed') return 'completed';
      let progress: ErasureProgress | null = resumed ?? freshProgress();
      while (progress !== null && progress.step < steps.length) {
        run.signal?.throwIfAborted();
        const step: Step | undefined = steps[progress.step];
        if (step === undefined) break;
        progress = await step(run, row, progress);
      }
      return 'completed';
    },
  };
}

export type ErasureSteps = ReturnType<typeof createErasureSteps>;
