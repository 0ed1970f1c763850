import type { ComplianceControl, SignedComplianceReport } from '@parley/client';

/**
 * The key and backup facts of the signed evidence report (controls `key_management` and `backups`), read
 * into what the "Keys and backups" page lays out. The report's evidence is free-form JSON: a field missing
 * or of another type reads as unknown (null), never as a guess.
 */

export interface KeyRow {
  /** The report's own name of the key, e.g. "tenant data key (version 2)". */
  name: string;
  kind: 'master' | 'signing' | 'tenant' | 'other';
  purpose: string | null;
  version: number | null;
  createdAt: string | null;
  ageDays: number | null;
  rotationDueAt: string | null;
  rotationOverdue: boolean;
}

export interface KeyFacts {
  control: ComplianceControl;
  rotationPeriodDays: number | null;
  /** Null in a report without a tenant (or from a server that does not say). */
  rotationPending: boolean | null;
  keys: KeyRow[];
}

export interface BackupFacts {
  control: ComplianceControl;
  engine: string | null;
  scheduled: boolean | null;
  lastAttemptAt: string | null;
  lastOutcome: 'succeeded' | 'failed' | null;
  lastErrorCode: string | null;
  lastSuccessAt: string | null;
  lastSuccessBytes: number | null;
  lastVerifyAt: string | null;
  lastVerifyResult: 'passed' | 'failed' | null;
}

export interface KeysAndBackups {
  generatedAt: string;
  reportId: string;
  keys: KeyFacts | undefined;
  backups: BackupFacts | undefined;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const count = (value: unknown): number | null => (typeof value === 'number' ? value : null);
const flag = (value: unknown): boolean | null => (typeof value === 'boolean' ? value : null);
const record = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
const oneOf = <T extends string>(value: unknown, allowed: readonly T[]): T | null =>
  allowed.find((candidate) => candidate === value) ?? null;

function keyRow(value: unknown): KeyRow {
  const key = record(value);
  return {
    name: text(key.key) ?? 'key',
    kind: oneOf(key.kind, ['master', 'signing', 'tenant'] as const) ?? 'other',
    purpose: text(key.purpose),
    version: count(key.version),
    createdAt: text(key.createdAt),
    ageDays: count(key.ageDays),
    rotationDueAt: text(key.rotationDueAt),
    rotationOverdue: key.rotationOverdue === true,
  };
}

/** This tenant's keys first (data, then index), then the installation's. */
const ORDER: Readonly<Record<KeyRow['kind'], number>> = { tenant: 0, master: 1, signing: 2, other: 3 };

export function keysAndBackupsOf(signed: SignedComplianceReport): KeysAndBackups {
  const find = (id: string) => signed.report.controls.find((control) => control.id === id);
  const keyControl = find('key_management');
  const backupControl = find('backups');
  let keys: KeyFacts | undefined;
  if (keyControl) {
    const evidence = keyControl.evidence;
    const rows = Array.isArray(evidence.keys) ? evidence.keys.map(keyRow) : [];
    rows.sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || (a.purpose ?? '').localeCompare(b.purpose ?? ''));
    keys = {
      control: keyControl,
      rotationPeriodDays: count(evidence.rotationPeriodDays),
      rotationPending: flag(evidence.tenantRotationPending),
      keys: rows,
    };
  }
  let backups: BackupFacts | undefined;
  if (backupControl) {
    const evidence = backupControl.evidence;
    backups = {
      control: backupControl,
      engine: text(evidence.engine),
      scheduled: flag(evidence.scheduled),
      lastAttemptAt: text(evidence.lastAttemptAt),
      lastOutcome: oneOf(evidence.lastOutcome, ['succeeded', 'failed'] as const),
      lastErrorCode: text(evidence.lastErrorCode),
      lastSuccessAt: text(evidence.lastSuccessAt),
      lastSuccessBytes: count(evidence.lastSuccessBytes),
      lastVerifyAt: text(evidence.lastVerifyAt),
      lastVerifyResult: oneOf(evidence.lastVerifyResult, ['passed', 'failed'] as const),
    };
  }
  return { generatedAt: signed.report.generatedAt, reportId: signed.report.reportId, keys, backups };
}

/** A size in bytes as people read it: `50.0 MiB`. */
export function sizeText(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit] ?? ''}`;
}

/** Whole days from now to `iso` (negative when past). */
export function daysUntil(iso: string, now: number): number {
  return Math.floor((Date.parse(iso) - now) / 86_400_000);
}
