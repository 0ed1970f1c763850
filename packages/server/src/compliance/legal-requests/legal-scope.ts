import { type LegalScopeSpec, legalScopeSpec } from '@parley/protocol';
import { AppError } from '../../app-error.ts';

/** A stored scope (JSON of a `LegalScopeSpec`), or null. */
export function readScope(stored: string | null | undefined): LegalScopeSpec | null {
  return stored === null || stored === undefined ? null : legalScopeSpec.parse(JSON.parse(stored));
}

/** The stored form: ids sorted, so equal scopes are equal strings. */
export function writeScope(spec: LegalScopeSpec): string {
  return JSON.stringify({
    userIds: [...spec.userIds].sort(),
    dialogIds: [...spec.dialogIds].sort(),
    from: new Date(spec.from).toISOString(),
    to: new Date(spec.to).toISOString(),
    kinds: [...spec.kinds].sort(),
  });
}

/**
 * Whether `approved` allows nothing `order` did not ask for: every account, dialog and kind it names is in
 * the order, its time range inside the order's, and a list the order named is not left empty (an empty list
 * means "any", which would widen it).
 */
export function isWithin(approved: LegalScopeSpec, order: LegalScopeSpec): boolean {
  const subset = (inner: readonly string[], outer: readonly string[]) =>
    outer.length === 0 || (inner.length > 0 && inner.every((item) => outer.includes(item)));
  return (
    subset(approved.userIds, order.userIds) &&
    subset(approved.dialogIds, order.dialogIds) &&
    approved.kinds.every((kind) => order.kinds.includes(kind)) &&
    Date.parse(approved.from) >= Date.parse(order.from) &&
    Date.parse(approved.to) <= Date.parse(order.to)
  );
}

/**
 * The scope a review approves: none on an objection; the one given, which must lie within the order's (an
 * order registered in words only takes the reviewer's); else the order's.
 */
export function approvedScopeOf(
  decision: 'approve' | 'narrow' | 'object',
  order: LegalScopeSpec | null,
  given: LegalScopeSpec | undefined,
): LegalScopeSpec | null {
  if (decision === 'object') return null;
  if (given === undefined) return order;
  if (order !== null && !isWithin(given, order)) throw new AppError('legal_scope_not_within_order');
  return given;
}
