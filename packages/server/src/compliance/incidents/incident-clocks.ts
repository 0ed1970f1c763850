import type { IncidentClock } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { IncidentRow } from './incident-store.ts';

const HOUR_MS = 3600_000;
/** GDPR Art. 33(1): the supervisory authority within 72 hours of becoming aware. */
export const GDPR_AUTHORITY_MS = 72 * HOUR_MS;
/** HIPAA Breach Notification Rule (45 CFR 164.404): individuals within 60 days of discovery. */
export const HIPAA_MS = 60 * 24 * HOUR_MS;
/** The default target for telling affected tenants (the controllers): they need time for their own 72 hours. */
export const DEFAULT_CONTROLLER_TARGET_HOURS = 24;

/** One clock of an incident: when it runs out, and what met it. */
export interface ClockState {
  clock: IncidentClock;
  deadline: number;
  metAt: number | null;
  delayReason: string | null;
  /** Met after the deadline, or not met and the deadline passed. */
  overdue: boolean;
}

/**
 * The three clocks, all from the awareness time: `controller` is met by the tenant notices, `gdpr_authority`
 * by recording the authority's notification, `hipaa` by the user notices.
 */
export function clocksOf(row: IncidentRow, now: number): ClockState[] {
  const clock = (
    name: IncidentClock,
    span: number,
    metAt: number | null,
    delayReason: string | null,
  ): ClockState => {
    const deadline = row.aware_at + span;
    return { clock: name, deadline, metAt, delayReason, overdue: (metAt ?? now) > deadline };
  };
  return [
    clock(
      'controller',
      row.controller_target_hours * HOUR_MS,
      row.controllers_notified_at,
      row.controller_delay_reason,
    ),
    clock('gdpr_authority', GDPR_AUTHORITY_MS, row.authority_notified_at, row.authority_delay_reason),
    clock('hipaa', HIPAA_MS, row.users_notified_at, row.users_delay_reason),
  ];
}

export function clockOf(row: IncidentRow, name: IncidentClock, now: number): ClockState {
  const state = clocksOf(row, now).find((candidate) => candidate.clock === name);
  if (!state) throw new Error(`unknown clock ${name}`);
  return state;
}

/** Past a clock's deadline, meeting it needs the reason for the delay (GDPR Art. 33(1), last sentence). */
export function requireDelayReason(state: ClockState, at: number, reason: string | undefined): void {
  if (at > state.deadline && !reason)
    throw new AppError(
      'delay_reason_required',
      `The ${state.clock} clock ran out at ${new Date(state.deadline).toISOString()}: give delayReason.`,
    );
}

/** Which reminder a clock is due for now: `due_soon` in its last quarter, `overdue` past it; none once met. */
export function reminderStage(
  state: ClockState,
  awareAt: number,
  now: number,
): 'due_soon' | 'overdue' | null {
  if (state.metAt !== null) return null;
  if (now > state.deadline) return 'overdue';
  if (now >= state.deadline - (state.deadline - awareAt) / 4) return 'due_soon';
  return null;
}

const clockLabels: Record<IncidentClock, { name: string; meetBy: string }> = {
  controller: {
    name: 'controller notice target',
    meetBy: 'send the tenant notices (POST /v1/platform/incidents/{id}/tenant-notices)',
  },
  gdpr_authority: {
    name: 'GDPR Art. 33 72-hour clock',
    meetBy:
      'record the supervisory authority’s notification (POST /v1/platform/incidents/{id}/authority-notification)',
  },
  hipaa: {
    name: 'HIPAA 60-day clock',
    meetBy: 'send the user notices (POST /v1/platform/incidents/{id}/user-notices)',
  },
};

/**
 * The e-mail to security officers for one reminder: the incident by id and severity, the clock, its deadline
 * and what meets it. No title, description, tenant or person: a mail box is no place for breach details.
 */
export function clockReminderNotice(
  row: Pick<IncidentRow, 'id' | 'severity'>,
  state: Pick<ClockState, 'clock' | 'deadline'>,
  stage: 'due_soon' | 'overdue',
): { subject: string; text: string } {
  const label = clockLabels[state.clock];
  const deadline = new Date(state.deadline).toISOString();
  return {
    subject: `Incident ${row.id}: ${label.name} ${stage === 'overdue' ? 'ran out' : 'runs out soon'}`,
    text: [
      `The ${label.name} of incident ${row.id} (severity ${row.severity}) ${
        stage === 'overdue' ? 'ran out' : 'runs out'
      } at ${deadline}.`,
      `To meet it, ${label.meetBy.replace('{id}', row.id)}.`,
      ...(stage === 'overdue'
        ? ['Past the deadline, meeting it needs the reason for the delay (delayReason).']
        : []),
      '',
      `Details: GET /v1/platform/incidents/${row.id} (security officers). This reminder is sent once.`,
    ].join('\n'),
  };
}
