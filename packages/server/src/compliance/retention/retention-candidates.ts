import type { DialogRetentionKind, DialogRetentionRules, RetentionDuration } from '@parley/protocol';
import type { TenantTx } from '../../storage/database.ts';
import type { HeldSet } from './legal-hold-service.ts';
import { durationMs, RESUME_HORIZON_MS, type RetentionRules, type SweepStep } from './retention-rules.ts';

/** What a sweep of one tenant works from: its rules, overrides, holds and the time. */
export interface SweepScope {
  tenantId: string;
  rules: RetentionRules;
  /** Dialog id → the kinds that dialog overrides (a kind absent follows the tenant's rule). */
  overrides: ReadonlyMap<string, DialogRetentionRules>;
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
const finite = (duration: RetentionDuration | null) => Number.isFinite(durationMs(duration));

/** Which dialogs a read covers: all but these (the tenant's rule), or only these (one override's rule). */
export type DialogFilter = { except: string[] } | { only: string[] };
const opOf = (filter: DialogFilter): 'in' | 'not in' => ('except' in filter ? 'not in' : 'in');
const idsOf = (filter: DialogFilter) => list('except' in filter ? filter.except : filter.only);

/** The dialogs overriding `kind`, and those among them with a finite rule grouped by it (held ones left out). */
function overridesOf(scope: SweepScope, kind: DialogRetentionKind, heldDialogs: ReadonlySet<string>) {
  const overridden: string[] = [];
  const byRule = new Map<RetentionDuration, string[]>();
  for (const [dialogId, override] of scope.overrides) {
    const rule = override[kind];
    if (rule === undefined) continue;
    overridden.push(dialogId);
    if (rule === null || heldDialogs.has(dialogId)) continue;
    byRule.set(rule, [...(byRule.get(rule) ?? []), dialogId]);
  }
  return { overridden, byRule };
}

/**
 * A dialog-scoped rule read in parts, each with its own cutoff: the tenant's rule over the dialogs without an
 * override of `kind` (and not held), then each overriding rule over its dialogs, until `limit` rows.
 */
async function perDialogRule<Row>(
  scope: SweepScope,
  kind: DialogRetentionKind,
  limit: number,
  heldDialogs: ReadonlySet<string>,
  read: (cutoff: number, dialogs: DialogFilter, limit: number) => Promise<Row[]>,
): Promise<Row[]> {
  const { overridden, byRule } = overridesOf(scope, kind, heldDialogs);
  const out: Row[] = [];
  if (finite(scope.rules[kind]))
    out.push(
      ...(await read(
        cutoffOf(scope.rules[kind], scope.now),
        { except: [...overridden, ...heldDialogs] },
        limit,
      )),
    );
  for (const [rule, dialogIds] of byRule) {
    if (out.length >= limit) break;
    out.push(...(await read(cutoffOf(rule, scope.now), { only: dialogIds }, limit - out.length)));
  }
  return out.slice(0, limit);
}

const noneHeld = new Set<string>();

/**
 * Per rule, the rows it has expired: a sweep takes them a batch at a time, the plan counts them. The
 * dialog-scoped rules (messages, attachments, call records, search entries) follow each dialog's override
 * where it has one. Rows a legal hold covers are left out: a held user's messages, files, calls and sessions,
 * and everything of a held dialog.
 */
export const retentionCandidates: Record<SweepStep, CandidateQuery> = {
  /** Live messages past their dialog's rule (the override, else the tenant's). */
  async messages(tx, scope, limit, respectHolds = true) {
    const heldDialogs = respectHolds ? scope.held.dialogs : noneHeld;
    const heldUsers = list(respectHolds ? scope.held.users : []);
    return perDialogRule(scope, 'messages', limit, heldDialogs, (cutoff, dialogs, max) =>
      tx
        .selectFrom('messages')
        .select(['id', 'dialog_id as dialogId'])
        .where('tenant_id', '=', scope.tenantId)
        .where('deleted_at', 'is', null)
        .where('created_at', '<', cutoff)
        .where('sender_id', 'not in', heldUsers)
        .where('dialog_id', opOf(dialogs), idsOf(dialogs))
        .orderBy('created_at')
        .orderBy('id')
        .limit(max)
        .execute(),
    );
  },

  /**
   * Tombstones of messages past their dialog's rule, deleted (by the rule or a person) longer than the resume
   * horizon ago: a client offline for less than that still replays the deletion; the rest get a resync.
   */
  async messageTombstones(tx, scope, limit, respectHolds = true) {
    const heldDialogs = respectHolds ? scope.held.dialogs : noneHeld;
    const heldUsers = list(respectHolds ? scope.held.users : []);
    return perDialogRule(scope, 'messages', limit, heldDialogs, (cutoff, dialogs, max) =>
      tx
        .selectFrom('messages')
        .select(['id', 'dialog_id as dialogId'])
        .where('tenant_id', '=', scope.tenantId)
        .where('deleted_at', '<=', scope.now - RESUME_HORIZON_MS)
        .where('created_at', '<', cutoff)
        .where('sender_id', 'not in', heldUsers)
        .where('dialog_id', opOf(dialogs), idsOf(dialogs))
        .orderBy('created_at')
        .orderBy('id')
        .limit(max)
        .execute(),
    );
  },

  /**
   * Search entries of messages older than their dialog's search rule (the override, else the tenant's; never
   * longer than the message rule).
   */
  async searchEntries(tx, scope, limit, respectHolds = true) {
    const heldDialogs = respectHolds ? scope.held.dialogs : noneHeld;
    const heldUsers = list(respectHolds ? scope.held.users : []);
    return perDialogRule(scope, 'searchEntries', limit, heldDialogs, (cutoff, dialogs, max) =>
      tx
        .selectFrom('message_search')
        .innerJoin('messages', 'messages.id', 'message_search.message_id')
        .select(['message_search.message_id as id', 'messages.dialog_id as dialogId'])
        .where('message_search.tenant_id', '=', scope.tenantId)
        .where('messages.tenant_id', '=', scope.tenantId)
        .where('messages.created_at', '<', cutoff)
        .where('messages.sender_id', 'not in', heldUsers)
        .where('messages.dialog_id', opOf(dialogs), idsOf(dialogs))
        .limit(max)
        .execute(),
    );
  },

  /**
   * Files past their rule, except those a held user uploaded or that are shared in a held dialog. A file
   * shared in dialogs follows the longest of their attachment rules (each dialog's override, else the
   * tenant's): it goes only once every dialog it is shared in has let it go. A file shared nowhere follows
   * the tenant's rule.
   */
  async attachments(tx, scope, limit, respectHolds = true) {
    const heldDialogs = respectHolds ? scope.held.dialogs : noneHeld;
    const tenantRule = scope.rules.attachments;
    const overridden = new Map<string, RetentionDuration | null>();
    for (const [dialogId, override] of scope.overrides)
      if (override.attachments !== undefined) overridden.set(dialogId, override.attachments);
    const rules = [tenantRule, ...overridden.values()].filter(finite);
    if (rules.length === 0) return [];
    // No file younger than the shortest rule can go: the index narrows the read to the old ones.
    const oldest = Math.max(...rules.map((rule) => cutoffOf(rule, scope.now)));
    const groups = new Map<RetentionDuration | null, string[]>();
    for (const [dialogId, rule] of overridden) groups.set(rule, [...(groups.get(rule) ?? []), dialogId]);
    return tx
      .selectFrom('attachments')
      .select('id')
      .where('tenant_id', '=', scope.tenantId)
      .where('status', '!=', 'removed')
      .where('created_at', '<', oldest)
      .where('uploader_id', 'not in', list(respectHolds ? scope.held.users : []))
      .where((eb) => {
        const shares = () =>
          eb
            .selectFrom('attachment_shares')
            .select('attachment_id')
            .whereRef('attachment_shares.attachment_id', '=', 'attachments.id')
            .where('attachment_shares.tenant_id', '=', scope.tenantId);
        // A share that keeps the file: in a held dialog, or in a dialog whose rule has not expired it yet.
        const keeps = (rule: RetentionDuration | null) =>
          finite(rule) ? eb('attachments.created_at', '>=', cutoffOf(rule, scope.now)) : eb.lit(true);
        const keeping = shares().where((share) =>
          share.or([
            share('attachment_shares.dialog_id', 'in', list(heldDialogs)),
            share.and([
              share('attachment_shares.dialog_id', 'not in', list(overridden.keys())),
              keeps(tenantRule),
            ]),
            ...[...groups].map(([rule, dialogIds]) =>
              share.and([share('attachment_shares.dialog_id', 'in', dialogIds), keeps(rule)]),
            ),
          ]),
        );
        return eb.and([
          eb.not(eb.exists(keeping)),
          finite(tenantRule)
            ? eb.or([eb.exists(shares()), eb('created_at', '<', cutoffOf(tenantRule, scope.now))])
            : eb.exists(shares()),
        ]);
      })
      .orderBy('created_at')
      .limit(limit)
      .execute();
  },

  /** Ended calls past their dialog's rule (a call outside a dialog: the tenant's), unless a held user took part or the dialog is held. */
  async callRecords(tx, scope, limit, respectHolds = true) {
    const heldDialogs = respectHolds ? scope.held.dialogs : noneHeld;
    const users = list(respectHolds ? scope.held.users : []);
    return perDialogRule(scope, 'callRecords', limit, heldDialogs, (cutoff, dialogs, max) =>
      tx
        .selectFrom('calls')
        .select('id')
        .where('tenant_id', '=', scope.tenantId)
        .where('state', '=', 'ended')
        .where('ended_at', '<', cutoff)
        .where('caller_id', 'not in', users)
        .where((eb) =>
          'except' in dialogs
            ? eb.or([eb('dialog_id', 'is', null), eb('dialog_id', opOf(dialogs), idsOf(dialogs))])
            : eb('dialog_id', opOf(dialogs), idsOf(dialogs)),
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
        .limit(max)
        .execute(),
    );
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
