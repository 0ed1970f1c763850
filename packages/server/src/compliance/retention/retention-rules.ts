import {
  type DialogRetentionKind,
  type DialogRetentionRules,
  dialogRetentionKinds,
  dialogRetentionRules,
  type RetentionDuration,
  type RetentionRulesBody,
  retentionRulesBody,
  updateRetentionRulesBody,
} from '@parley/protocol';
import type { z } from 'zod';
import { AppError } from '../../app-error.ts';

/** A tenant's retention rules (docs/privacy.md, "Retention"): one duration per kind of data. */
export type RetentionRules = RetentionRulesBody;
export type RetentionRulesUpdate = z.infer<typeof updateRetentionRulesBody>;

/** The rules the sweeper applies, each named as receipts and plans name it. */
export const sweptRules = [
  'messages',
  'attachments',
  'callRecords',
  'searchEntries',
  'sessions',
  'mailOutbox',
  'exportArchives',
] as const;
export type SweptRule = (typeof sweptRules)[number];

/**
 * What the sweeper does, in order: each rule, then `messageTombstones` — the last rows of messages past their
 * rule that were deleted (by the rule or by a person) longer than the resume horizon ago.
 */
export const sweepSteps = [...sweptRules, 'messageTombstones'] as const;
export type SweepStep = (typeof sweepSteps)[number];

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** HIPAA keeps documentation six years (45 CFR 164.316(b)(2)); 2 leap days included. */
export const HIPAA_AUDIT_MINIMUM: RetentionDuration = '2192d';

/**
 * How long a deleted message's tombstone and its `deleted` event stay after the deletion, so that a client
 * resuming within it replays the deletion; one resuming from before a tombstone removed later is told to
 * resync (docs/privacy.md, "The sweeper"; docs/realtime.md).
 */
export const RESUME_HORIZON_MS = 7 * DAY_MS;

/** The shortest a message may be kept: an hour. */
export const MIN_MESSAGE_RULE_MS = HOUR_MS;
/** The shortest audit minimum a tenant may choose. */
export const MIN_AUDIT_MINIMUM_MS = DAY_MS;

/**
 * The defaults (docs/privacy.md, "Retention"): correspondence and files are the tenant's and stay until it
 * sets a rule; records kept only for operations expire on their own.
 */
export const defaultRetentionRules: RetentionRules = Object.freeze({
  messages: null,
  attachments: null,
  callRecords: '365d',
  searchEntries: null,
  sessions: '90d',
  mailOutbox: '30d',
  exportArchives: '30d',
  auditPreset: 'none',
  auditMinimum: '365d',
  auditMaximum: null,
  ipMinimisationDays: 30,
});

/** Milliseconds of a duration; null (no limit) is Infinity. */
export function durationMs(duration: RetentionDuration | null): number {
  if (duration === null) return Number.POSITIVE_INFINITY;
  const amount = Number(duration.slice(0, -1));
  const unit = duration.at(-1);
  return amount * (unit === 'm' ? 60_000 : unit === 'h' ? HOUR_MS : DAY_MS);
}

/** The rules stored for a tenant, over the defaults (a key stored by an older version is ignored). */
export function rulesFromStored(stored: string | undefined): RetentionRules {
  if (stored === undefined) return { ...defaultRetentionRules };
  const parsed = updateRetentionRulesBody.safeParse(JSON.parse(stored));
  return { ...defaultRetentionRules, ...(parsed.success ? definedOnly(parsed.data) : {}) };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The rules after `update`, validated as a whole. */
export function applyUpdate(current: RetentionRules, update: RetentionRulesUpdate): RetentionRules {
  const next = retentionRulesBody.parse({ ...current, ...definedOnly(update) });
  validateRules(next);
  return next;
}

/**
 * Refuses rules that cannot be meant, with the code and a message that names the rule:
 * - a message rule under an hour (`retention_rule_too_short`);
 * - an audit minimum under a day, under six years with the HIPAA preset, or an audit maximum under the
 *   minimum (`retention_below_legal_minimum`);
 * - search entries kept longer than the messages they index (`retention_rules_conflict`).
 */
export function validateRules(rules: RetentionRules): void {
  if (durationMs(rules.messages) < MIN_MESSAGE_RULE_MS)
    throw new AppError('retention_rule_too_short', 'messages: a message is kept at least an hour (1h).');
  for (const rule of sweptRules)
    if (durationMs(rules[rule]) < HOUR_MS)
      throw new AppError('retention_rule_too_short', `${rule}: a rule is at least an hour (1h).`);
  const minimum = durationMs(rules.auditMinimum);
  if (minimum < MIN_AUDIT_MINIMUM_MS)
    throw new AppError('retention_below_legal_minimum', 'auditMinimum: at least a day (1d).');
  if (rules.auditPreset === 'hipaa' && minimum < durationMs(HIPAA_AUDIT_MINIMUM))
    throw new AppError(
      'retention_below_legal_minimum',
      `auditMinimum: the HIPAA preset keeps audit entries at least six years (${HIPAA_AUDIT_MINIMUM}).`,
    );
  if (durationMs(rules.auditMaximum) < minimum)
    throw new AppError(
      'retention_below_legal_minimum',
      `auditMaximum: under the audit minimum the tenant chose (${rules.auditMinimum}).`,
    );
  if (rules.searchEntries !== null && durationMs(rules.searchEntries) > durationMs(rules.messages))
    throw new AppError(
      'retention_rules_conflict',
      'searchEntries: a search entry cannot outlive the message it indexes; keep it no longer than messages.',
    );
}

/**
 * Checks a dialog's overrides, with the same codes as the tenant's rules: each at least an hour
 * (`retention_rule_too_short`); none longer than the tenant's rule of its kind unless the caller may extend it,
 * an administrator with `retention.manage` (`retention_longer_than_tenant`); search entries no longer than the
 * dialog's messages (`retention_rules_conflict`).
 */
export function validateDialogOverride(
  tenant: RetentionRules,
  override: DialogRetentionRules,
  mayExtend: boolean,
): void {
  for (const kind of dialogRetentionKinds) {
    const rule = override[kind];
    if (rule === undefined) continue;
    if (durationMs(rule) < HOUR_MS)
      throw new AppError(
        'retention_rule_too_short',
        kind === 'messages'
          ? 'messages: a message is kept at least an hour (1h).'
          : `${kind}: a rule is at least an hour (1h).`,
      );
    if (!mayExtend && durationMs(rule) > durationMs(tenant[kind]))
      throw new AppError(
        'retention_longer_than_tenant',
        `${kind}: longer than the tenant’s rule (${tenant[kind] ?? 'unlimited'}).`,
      );
  }
  const messages = override.messages === undefined ? tenant.messages : override.messages;
  if (
    override.searchEntries !== undefined &&
    override.searchEntries !== null &&
    durationMs(override.searchEntries) > durationMs(messages)
  )
    throw new AppError(
      'retention_rules_conflict',
      'searchEntries: a search entry cannot outlive the message it indexes; keep it no longer than messages.',
    );
}

/** The rule each dialog kind follows: the dialog's override where it has one, else the tenant's. */
export function effectiveDialogRules(
  tenant: RetentionRules,
  override: DialogRetentionRules,
): Record<DialogRetentionKind, RetentionDuration | null> {
  return Object.fromEntries(
    dialogRetentionKinds.map((kind) => [kind, override[kind] === undefined ? tenant[kind] : override[kind]]),
  ) as Record<DialogRetentionKind, RetentionDuration | null>;
}

/** A stored override (a row written before every kind could be overridden holds `messages` only). */
export function overrideFromStored(stored: string): DialogRetentionRules {
  const parsed = dialogRetentionRules.safeParse(JSON.parse(stored));
  return parsed.success ? definedOnly(parsed.data) : {};
}
