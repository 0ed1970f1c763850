import type { RetentionDuration } from '@parley/protocol';
import type { TenantTx } from '../../storage/database.ts';
import type { HeldSet } from './legal-hold-service.ts';
import { durationMs, type RetentionRules, type SweptRule } from './retention-rules.ts';

/** What a sweep of one tenant works from: its rules, overrides, holds and the time. */
export interface SweepScope {
  tenantId: string;
  rules: RetentionRules;
  overrides: ReadonlyMap<string, RetentionDuration | null>;
  held: HeldSet;
  now: number;
}

/** Ids of at most `limit` rows a rule has expired now, oldest first; `held: false` ignores the holds. */
export type CandidateQuery = (
  tx: TenantTx,
  scope: SweepScope,
  limit: number,
  respectHolds?: boolean,
) => Promise<{ id: string; dialogId?: string }[]>;

/** Stands for an empty list in `not in`/`in` (no id is empty). */
const NONE = [''];
const list = (values: Iterable<string>) => {
  const all = [...values];
  return all.length === 0 ? NONE : all;
};
const cutoffOf = (duration: RetentionDuration | null, now: number) => now - durationMs(duration);

/**
 * Per rule, the rows it has expired: a sweep takes them a batch at a time, the plan counts them. Rows a legal
 * hold covers are left out: a held user's messages, files, calls and sessions, and everything of a held dialog.
 */
export const retentionCandidates: Record<SweptRule, CandidateQuery> = {
  /** Live messages past their dialog's rule (the override, else the tenant's). */
  async messages(tx, scope, limit, respectHolds = true) {
    const { tenantId, overrides, held, now } = scope;
    const out: { id: string; dialogId: string }[] = [];
    const heldDialogs = respectHolds ? held.dialogs : new Set<string>();
    const heldUsers = respectHolds ? held.users : new Set<string>();
    const base = (cutoff: number) =>
      tx
        .selectFrom('messages')
        .select(['id', 'dialog_id as dialogId', 'created_at'])
        .where('tenant_id', '=', tenantId)
        .where('deleted_at', 'is', null)
        .where('created_at', '<', cutoff)
        .where('sender_id', 'not in', list(heldUsers))
        .orderBy('created_at')
        .orderBy('id')
        .limit(limit);
    if (Number.isFinite(durationMs(scope.rules.messages)))
      out.push(
        ...(await base(cutoffOf(scope.rules.messages, now))
          .where('dialog_id', 'not in', list([...overrides.keys(), ...heldDialogs]))
          .execute()),
      );
    for (const [dialogId, rule] of overrides) {
      if (out.length >= limit) break;
      if (heldDialogs.has(dialogId) || !Number.isFinite(durationMs(rule))) continue;
      out.push(
        ...(await base(cutoffOf(rule, now))
          .where('dialog_id', '=', dialogId)
          .limit(limit - out.length)
          .execute()),
      );
    }
    return out.slice(0, limit);
  },

  /** Search entries of messages older than the search rule (shorter than the message rule). */
  async searchEntries(tx, scope, limit, respectHolds = true) {
    if (!Number.isFinite(durationMs(scope.rules.searchEntries))) return [];
    return tx
      .selectFrom('message_search')
      .innerJoin('messages', 'messages.id', 'message_search.message_id')
      .select(['message_search.message_id as id', 'messages.dialog_id as dialogId'])
      .where('message_search.tenant_id', '=', scope.tenantId)
      .where('messages.tenant_id', '=', scope.tenantId)
      .where('messages.created_at', '<', cutoffOf(scope.rules.searchEntries, scope.now))
      .where('messages.sender_id', 'not in', list(respectHolds ? scope.held.users : []))
      .where('messages.dialog_id', 'not in', list(respectHolds ? scope.held.dialogs : []))
      .limit(limit)
      .execute();
  },

  /** Files past the rule, except those a held user uploaded or that are shared in a held dialog. */
  async attachments(tx, scope, limit, respectHolds = true) {
    if (!Number.isFinite(durationMs(scope.rules.attachments))) return [];
    return tx
      .selectFrom('attachments')
      .select('id')
      .where('tenant_id', '=', scope.tenantId)
      .where('status', '!=', 'removed')
      .where('created_at', '<', cutoffOf(scope.rules.attachments, scope.now))
      .where('uploader_id', 'not in', list(respectHolds ? scope.held.users : []))
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('attachment_shares')
              .select('attachment_id')
              .whereRef('attachment_shares.attachment_id', '=', 'attachments.id')
              .where('attachment_shares.tenant_id', '=', scope.tenantId)
              .where('attachment_shares.dialog_id', 'in', list(respectHolds ? scope.held.dialogs : [])),
          ),
        ),
      )
      .orderBy('created_at')
      .limit(limit)
      .execute();
  },

  /** Ended calls past the rule, unless a held user took part or the dialog is held. */
  async callRecords(tx, scope, limit, respectHolds = true) {
    if (!Number.isFinite(durationMs(scope.rules.callRecords))) return [];
    const users = list(respectHolds ? scope.held.users : []);
    return tx
      .selectFrom('calls')
      .select('id')
      .where('tenant_id', '=', scope.tenantId)
      .where('state', '=', 'ended')
      .where('ended_at', '<', cutoffOf(scope.rules.callRecords, scope.now))
      .where('caller_id', 'not in', users)
      .where((eb) =>
        eb.or([
          eb('dialog_id', 'is', null),
          eb('dialog_id', 'not in', list(respectHolds ? scope.held.dialogs : [])),
        ]),
      )
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('call_participants')
              .select('call_id')
              .whereRef('call_participants.call_id', '=', 'calls.id')
              .where('call_participants.tenant_id', '=', scope.tenantId)
              .where('call_participants.user_id', 'in', users),
          ),
        ),
      )
      .orderBy('ended_at')
      .limit(limit)
      .execute();
  },

  /** Ended sessions (revoked, or every token expired) last used before the rule. */
  async sessions(tx, scope, limit, respectHolds = true) {
    if (!Number.isFinite(durationMs(scope.rules.sessions))) return [];
    const { now } = scope;
    return tx
      .selectFrom('sessions')
      .select('id')
      .where('tenant_id', '=', scope.tenantId)
      .where('last_used_at', '<', cutoffOf(scope.rules.sessions, now))
      .where((eb) =>
        eb.or([
          eb('revoked_at', 'is not', null),
          eb.and([
            eb('access_expires_at', '<=', now),
            eb.or([eb('refresh_expires_at', 'is', null), eb('refresh_expires_at', '<=', now)]),
          ]),
        ]),
      )
      .where((eb) =>
        eb.or([
          eb('user_id', 'is', null),
          eb('user_id', 'not in', list(respectHolds ? scope.held.users : [])),
        ]),
      )
      .orderBy('last_used_at')
      .limit(limit)
      .execute();
  },

  /** Outbox mail past the rule (its recipient is sealed: only a tenant hold keeps it). */
  async mailOutbox(tx, scope, limit) {
    if (!Number.isFinite(durationMs(scope.rules.mailOutbox))) return [];
    return tx
      .selectFrom('mail_outbox')
      .select('id')
      .where('tenant_id', '=', scope.tenantId)
      .where('created_at', '<', cutoffOf(scope.rules.mailOutbox, scope.now))
      .orderBy('created_at')
      .limit(limit)
      .execute();
  },

  /** Finished exports (ready, failed or destroyed) finished before the rule, unless their subject is held. */
  async exportArchives(tx, scope, limit, respectHolds = true) {
    if (!Number.isFinite(durationMs(scope.rules.exportArchives))) return [];
    return tx
      .selectFrom('data_exports')
      .select('id')
      .where('tenant_id', '=', scope.tenantId)
      .where('status', 'in', ['ready', 'failed', 'destroyed'])
      .where('updated_at', '<', cutoffOf(scope.rules.exportArchives, scope.now))
      .where('subject_id', 'not in', list(respectHolds ? scope.held.users : []))
      .orderBy('updated_at')
      .limit(limit)
      .execute();
  },
};
