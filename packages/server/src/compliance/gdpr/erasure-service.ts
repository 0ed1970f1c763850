import type {
  ErasureBody,
  ErasureCertificate,
  ErasureSettings,
  SignedErasureCertificate,
} from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { Counter } from '../../counters/counter.ts';
import type { Keyring } from '../../crypto/keyring.ts';
import type { MfaDisableProof, MfaService } from '../../identity/mfa/mfa-service.ts';
import type { UserService } from '../../identity/user-service.ts';
import { newId } from '../../ids.ts';
import type { JobQueue } from '../../jobs/index.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { DsrAudited, DsrService } from './dsr-service.ts';
import type { ErasureJob } from './erasure-job.ts';
import type { ErasureSteps } from './erasure-steps.ts';
import { type ErasureRow, erasureStore } from './erasure-store.ts';
import type { AccountActor } from './restriction-service.ts';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Requests and cancellations a person may make per hour, and erasures a tenant may start per hour. */
export const defaultErasureLimits = { perUserPerHour: 5, perTenantPerHour: 30 };

export interface ErasureServiceDeps {
  storage: Storage;
  users: Pick<UserService, 'statusForChangeIn'>;
  /** The step-up a self-service erasure needs: the password, and a second factor when the user has MFA. */
  stepUp: Pick<MfaService, 'stepUp'>;
  dsr: Pick<DsrService, 'createIn' | 'openRequestIn' | 'transitionIn'>;
  steps: ErasureSteps;
  job: ErasureJob;
  queue: Pick<JobQueue, 'enqueue' | 'cancel'>;
  keyring: Pick<Keyring, 'erasureRegister'>;
  audit: AuditLog;
  counter: Counter;
  clock: Clock;
  limits?: typeof defaultErasureLimits;
}

/** What a user proves to erase their own account: the password, and a second factor when they have MFA. */
export type StepUpProof = MfaDisableProof;

/** The person asking: the data subject themselves, with the request behind the call for the audit. */
export type Subject = DsrAudited & { userId: string };

const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());

/**
 * Erasure (GDPR Art. 17; docs/privacy.md, "Erasure"). A user asks with their password, or an administrator
 * erases a user; either way it is recorded as a data subject request of kind `erasure` and scheduled as a
 * durable job at the end of the tenant's grace period, until which it can be cancelled with no effect at
 * all. The job (erasure-steps.ts) ends the account and its sessions, shreds its key, clears its fields,
 * erases or keeps its messages by the tenant's policy, erases its files and search entries, pseudonymises
 * what others keep, and signs a certificate. The erasure register (outside the database) makes a restored
 * older database erase the account again at start-up, before the server serves anything.
 */
export function createErasureService(deps: ErasureServiceDeps) {
  const { storage, users, stepUp, dsr, steps, queue, audit, counter, clock } = deps;
  const limits = deps.limits ?? defaultErasureLimits;
  const publicKeys = new Map<string, string>();

  async function publicKeyOf(keyId: string): Promise<string> {
    const known = publicKeys.get(keyId);
    if (known !== undefined) return known;
    const row = await storage.withSystem((tx) =>
      tx.selectFrom('signing_keys').select('public_key').where('id', '=', keyId).executeTakeFirstOrThrow(),
    );
    publicKeys.set(keyId, row.public_key);
    return row.public_key;
  }

  /** Read outside any transaction: the signing key's public half comes from a system transaction. */
  async function present(row: ErasureRow): Promise<ErasureBody> {
    let certificate: SignedErasureCertificate | null = null;
    if (row.certificate !== null && row.signature !== null && row.key_id !== null) {
      certificate = {
        certificate: JSON.parse(row.certificate) as ErasureCertificate,
        signature: row.signature,
        keyId: row.key_id,
        publicKey: await publicKeyOf(row.key_id),
        algorithm: 'Ed25519',
      };
    }
    return {
      id: row.id,
      userId: row.user_id,
      requestId: row.request_id,
      source: row.source,
      status: row.status,
      messagePolicy: row.message_policy,
      requestedAt: new Date(row.requested_at).toISOString(),
      eraseAfter: new Date(row.erase_after).toISOString(),
      startedAt: iso(row.started_at),
      completedAt: iso(row.completed_at),
      cancelledAt: iso(row.cancelled_at),
      certificate,
    };
  }

  /** A person's own requests and cancellations count per person; every erasure asked for counts per tenant. */
  async function takeRate(tenantId: string, limited: { subjectId?: string; tenant: boolean }): Promise<void> {
    const { subjectId } = limited;
    if (
      subjectId !== undefined &&
      (await counter.increment(`erasure:user:${tenantId}:${subjectId}`, HOUR_MS)) > limits.perUserPerHour
    )
      throw new AppError('rate_limited', 'Too many erasure requests; try again later.');
    if (
      limited.tenant &&
      (await counter.increment(`erasure:tenant:${tenantId}`, HOUR_MS)) > limits.perTenantPerHour
    )
      throw new AppError('rate_limited', 'Too many erasures in this tenant; try again later.');
  }

  /** The subject may be erased now: not erased already, nothing scheduled, not the last owner. */
  async function checkErasable(tx: TenantTx, tenantId: string, userId: string, roles: string[]) {
    const active = await erasureStore.activeOf(tx, tenantId, userId);
    if (active) throw new AppError('erasure_scheduled');
    if (roles.includes('owner') && (await erasureStore.otherOwnerCount(tx, tenantId, userId)) === 0)
      throw new AppError('conflict', 'The tenant’s last owner cannot be erased; name another owner first.');
  }

  async function schedule(
    tx: TenantTx,
    tenantId: string,
    input: {
      userId: string;
      requestId: string;
      source: 'subject' | 'admin';
      requestedBy: string;
      graceDays: number;
    },
    audited: DsrAudited,
  ): Promise<ErasureRow> {
    const settings = await erasureStore.settings(tx, tenantId);
    const now = clock.now();
    const id = newId();
    const eraseAfter = now + input.graceDays * DAY_MS;
    const jobId = await queue.enqueue(tx, deps.job, {
      tenantId,
      payload: { erasureId: id },
      requestedBy: input.requestedBy,
      runAfter: eraseAfter,
    });
    const row: ErasureRow = {
      id,
      tenant_id: tenantId,
      user_id: input.userId,
      request_id: input.requestId,
      source: input.source,
      requested_by: input.requestedBy,
      status: 'scheduled',
      message_policy: settings.messagePolicy,
      job_id: jobId,
      requested_at: now,
      erase_after: eraseAfter,
      started_at: null,
      completed_at: null,
      cancelled_at: null,
      cancelled_by: null,
      certificate: null,
      signature: null,
      key_id: null,
      updated_at: now,
    };
    await erasureStore.insert(tx, row);
    await audit.append(tx, tenantId, {
      actor: audited.actor,
      action: 'privacy.erasure_requested',
      target: { type: 'user', id: input.userId },
      outcome: 'success',
      ...audited.context,
      details: {
        erasureId: id,
        requestId: input.requestId,
        graceDays: input.graceDays,
        messagePolicy: row.message_policy,
      },
    });
    return row;
  }

  /**
   * Cancels the user's erasure while its grace period runs (after that it has started for good), by whoever
   * asked for it: the user their own request, an administrator an administrator's.
   */
  async function cancel(tenantId: string, userId: string, audited: DsrAudited & { userId: string }) {
    if (audited.userId === userId) await takeRate(tenantId, { subjectId: userId, tenant: false });
    const row = await storage.withTenant(tenantId, async (tx) => {
      const active = await erasureStore.activeOf(tx, tenantId, userId);
      const current = active && (await erasureStore.lock(tx, tenantId, active.id, storage.dialect));
      if (!current) throw new AppError('not_found', 'No erasure of this account is scheduled.');
      const now = clock.now();
      if (current.status !== 'scheduled' || now >= current.erase_after) throw new AppError('erasure_started');
      // The person who asked takes it back: an administrator cannot withdraw a subject's request (Art. 17 is
      // theirs), nor a subject an erasure the organisation decided.
      const bySubject = audited.userId === userId;
      if (bySubject !== (current.source === 'subject'))
        throw new AppError(
          'forbidden',
          bySubject
            ? 'An administrator asked for this erasure; only an administrator can cancel it.'
            : 'The user asked for this erasure themselves; only they can cancel it.',
        );
      const cancelled: ErasureRow = {
        ...current,
        status: 'cancelled',
        cancelled_at: now,
        cancelled_by: audited.userId,
        updated_at: now,
      };
      await erasureStore.update(tx, tenantId, current.id, {
        status: 'cancelled',
        cancelled_at: now,
        cancelled_by: audited.userId,
        updated_at: now,
      });
      if (current.job_id !== null) await queue.cancel(tx, tenantId, current.job_id);
      if (current.request_id !== null)
        await dsr.transitionIn(
          tx,
          tenantId,
          current.request_id,
          {
            status: 'cancelled',
            outcome: 'The erasure was cancelled during its grace period; nothing was erased.',
          },
          audited,
        );
      await audit.append(tx, tenantId, {
        actor: audited.actor,
        action: 'privacy.erasure_cancelled',
        target: { type: 'user', id: userId },
        outcome: 'success',
        ...audited.context,
        details: { erasureId: current.id },
      });
      return cancelled;
    });
    return present(row);
  }

  return {
    /**
     * The data subject asks for their own erasure, proving it is them: the password, and with MFA enrolled
     * also a current TOTP code or a recovery code (`mfa_code_required` without one). A stolen access token
     * alone starts nothing.
     */
    async requestOwn(tenantId: string, subject: Subject, proof: StepUpProof): Promise<ErasureBody> {
      await takeRate(tenantId, { subjectId: subject.userId, tenant: true });
      // A user's request always comes through one of their sessions (personActing).
      const actor = { userId: subject.userId, sessionId: subject.actor.sessionId ?? '' };
      await stepUp.stepUp(tenantId, actor, proof, 'erasure', subject.context);
      const row = await storage.withTenant(tenantId, async (tx) => {
        const { status, roles } = await users.statusForChangeIn(tx, tenantId, subject.userId);
        if (status === 'erased') throw new AppError('not_found');
        await checkErasable(tx, tenantId, subject.userId, roles);
        const request = await dsr.createIn(
          tx,
          tenantId,
          { kind: 'erasure', subjectId: subject.userId, requestedBy: subject.userId, source: 'subject' },
          subject,
        );
        const { graceDays } = await erasureStore.settings(tx, tenantId);
        return schedule(
          tx,
          tenantId,
          {
            userId: subject.userId,
            requestId: request.id,
            source: 'subject',
            requestedBy: subject.userId,
            graceDays,
          },
          subject,
        );
      });
      return present(row);
    },

    /**
     * An administrator erases a user, answering `requestId` (an open erasure request of theirs) or a new one;
     * `graceDays` may shorten the tenant's grace period. Only owners erase owners; nobody erases themselves
     * this way (their own route asks for their password).
     */
    async requestFor(
      tenantId: string,
      actor: AccountActor,
      userId: string,
      input: { requestId?: string | undefined; graceDays?: number | undefined },
    ): Promise<ErasureBody> {
      if (userId === actor.userId)
        throw new AppError('forbidden', 'Use POST /v1/me/erasure to erase your own account.');
      await takeRate(tenantId, { tenant: true });
      const row = await storage.withTenant(tenantId, async (tx) => {
        const { status, roles } = await users.statusForChangeIn(tx, tenantId, userId);
        if (status === 'erased') throw new AppError('not_found');
        if (roles.includes('owner') && !actor.isOwner)
          throw new AppError('forbidden', 'Only owners can erase an owner.');
        await checkErasable(tx, tenantId, userId, roles);
        const request =
          input.requestId === undefined
            ? await dsr.createIn(
                tx,
                tenantId,
                { kind: 'erasure', subjectId: userId, requestedBy: actor.userId, source: 'admin' },
                actor,
              )
            : await dsr.openRequestIn(tx, tenantId, input.requestId, userId, ['erasure']);
        const { graceDays } = await erasureStore.settings(tx, tenantId);
        return schedule(
          tx,
          tenantId,
          {
            userId,
            requestId: request.id,
            source: 'admin',
            requestedBy: actor.userId,
            graceDays: input.graceDays ?? graceDays,
          },
          actor,
        );
      });
      return present(row);
    },

    cancelOwn: (tenantId: string, subject: Subject) => cancel(tenantId, subject.userId, subject),

    async cancelFor(tenantId: string, actor: AccountActor, userId: string): Promise<ErasureBody> {
      await storage.withTenant(tenantId, (tx) => users.statusForChangeIn(tx, tenantId, userId));
      return cancel(tenantId, userId, actor);
    },

    /** The user's latest erasure (scheduled, running, done or cancelled), with its certificate once done. */
    async latest(tenantId: string, userId: string): Promise<ErasureBody> {
      const row = await storage.withTenant(tenantId, async (tx) => {
        await users.statusForChangeIn(tx, tenantId, userId);
        return erasureStore.latestOf(tx, tenantId, userId);
      });
      if (!row) throw new AppError('not_found', 'This account has no erasure.');
      return present(row);
    },

    settings: (tenantId: string): Promise<ErasureSettings> =>
      storage.withTenant(tenantId, (tx) => erasureStore.settings(tx, tenantId)),

    async updateSettings(
      tenantId: string,
      audited: DsrAudited,
      patch: Partial<ErasureSettings>,
    ): Promise<ErasureSettings> {
      return storage.withTenant(tenantId, async (tx) => {
        const before = await erasureStore.settings(tx, tenantId);
        const after = { ...before, ...patch };
        await erasureStore.saveSettings(tx, tenantId, after, clock.now());
        await audit.append(tx, tenantId, {
          actor: audited.actor,
          action: 'tenant.erasure_settings_changed',
          target: { type: 'tenant', id: tenantId },
          outcome: 'success',
          ...audited.context,
          details: { before, after },
        });
        return after;
      });
    },

    /**
     * Adds to this node's erasure register every erasure the database shows as started that the register
     * lacks: erasures other nodes ran (each node appends those its own job runner runs). Run at start-up and
     * periodically, so every node's register converges on the cluster's erasures. Returns how many it added.
     */
    async syncRegister(): Promise<number> {
      const register = deps.keyring.erasureRegister;
      const known = new Set(register.fullErasures().map((entry) => `${entry.tenantId}/${entry.userId}`));
      const tenants = await storage.withSystem((tx) => tx.selectFrom('tenants').select('id').execute());
      let added = 0;
      for (const { id: tenantId } of tenants) {
        const started = await storage.withTenant(tenantId, (tx) => erasureStore.started(tx, tenantId));
        for (const row of started) {
          if (known.has(`${tenantId}/${row.user_id}`)) continue;
          register.record({
            tenantId,
            userId: row.user_id,
            at: row.started_at ?? row.requested_at,
            erasureId: row.id,
            messagePolicy: row.message_policy,
          });
          known.add(`${tenantId}/${row.user_id}`);
          added += 1;
        }
      }
      return added;
    },

    /**
     * Erases again, before the server serves anything, every account the erasure register names that this
     * database does not show as erased to the end: a database restored from a copy older than an erasure
     * would otherwise bring its messages, files and profile back. Returns how many were erased again.
     */
    async reapplyRegister(): Promise<number> {
      let erased = 0;
      for (const entry of deps.keyring.erasureRegister.fullErasures()) {
        const { tenantId, userId, erasureId } = entry;
        const tenant = await storage.withSystem((tx) =>
          tx.selectFrom('tenants').select('id').where('id', '=', tenantId).executeTakeFirst(),
        );
        if (!tenant) continue;
        const target = await storage.withTenant(tenantId, async (tx) => {
          const user = await tx
            .selectFrom('users')
            .select('id')
            .where('tenant_id', '=', tenantId)
            .where('id', '=', userId)
            .executeTakeFirst();
          if (!user) return undefined;
          const latest = await erasureStore.activeOf(tx, tenantId, userId);
          if (latest?.status === 'completed') return undefined;
          // Scheduled or half done in this copy: finish that one.
          if (latest) return latest.id;
          const id = (await erasureStore.find(tx, tenantId, erasureId)) ? newId() : erasureId;
          await erasureStore.insert(tx, {
            id,
            tenant_id: tenantId,
            user_id: userId,
            request_id: null,
            source: 'register',
            requested_by: null,
            status: 'scheduled',
            message_policy: entry.messagePolicy,
            job_id: null,
            requested_at: entry.at,
            erase_after: entry.at,
            started_at: null,
            completed_at: null,
            cancelled_at: null,
            cancelled_by: null,
            certificate: null,
            signature: null,
            key_id: null,
            updated_at: clock.now(),
          });
          return id;
        });
        if (target === undefined) continue;
        await steps.run(
          {
            tenantId,
            erasureId: target,
            checkpoint: () => Promise.resolve(),
            emailIndex: entry.emailIndex,
            settled: true,
          },
          undefined,
        );
        erased += 1;
      }
      return erased;
    },
  };
}

export type ErasureService = ReturnType<typeof createErasureService>;
