import { z } from 'zod';

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The deepest nesting any request body or frame may have. Our own shapes nest at most a few levels (custom data
 * is free-form JSON but bounded to 8 KiB); a hostile, deeply nested document would otherwise overflow the stack
 * of the first recursive walk over it (`JSON.stringify` in a size check) and end as an internal error.
 */
export const maxInputDepth = 32;

/** Where and why a decoded input cannot be accepted; `path` names keys and indexes, never the bad text. */
export interface UnstorableInput {
  path: (string | number)[];
  problem: string;
}

/**
 * Text no column of either database can hold as sent:
 * - U+0000: PostgreSQL's `text` refuses it (the insert fails), SQLite keeps it — so the same request would
 *   succeed on one dialect and fail with a database error on the other;
 * - a lone UTF-16 surrogate: not Unicode at all; every UTF-8 encoder on the way (the drivers, the field cipher,
 *   the blind index) silently replaces it with U+FFFD, so what is stored is not what was sent and two
 *   different client ids could collide.
 */
function textProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain a NUL character';
  return loneSurrogate.test(text) ? 'must be well-formed Unicode' : null;
}

/**
 * Finds the first string (object key or value, at any depth) in decoded input — JSON, a query string, path
 * parameters — that no column can hold, a number JSON cannot carry (Infinity), or nesting deeper than {@link maxInputDepth}. Iterative, so hostile
 * nesting cannot overflow the stack here either. Checking every decoded string at the edge, once, keeps each
 * schema free of its own NUL rule and covers the fields no schema constrains (custom data).
 */
export function findUnstorableInput(value: unknown): UnstorableInput | null {
  const pending: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const { value: current, path } = item;
    if (typeof current === 'string') {
      const problem = textProblem(current);
      if (problem) return { path, problem };
      continue;
    }
    // JSON.parse reads 1e999 as Infinity, which JSON.stringify stores as null: refuse it rather than alter it.
    if (typeof current === 'number' && !Number.isFinite(current))
      return { path, problem: 'must be a finite number' };
    if (typeof current !== 'object' || current === null) continue;
    if (path.length >= maxInputDepth)
      return { path, problem: `must not nest deeper than ${maxInputDepth} levels` };
    if (Array.isArray(current)) {
      current.forEach((entry: unknown, index) => pending.push({ value: entry, path: [...path, index] }));
      continue;
    }
    for (const [key, entry] of Object.entries(current)) {
      const problem = textProblem(key);
      if (problem) return { path, problem: `has a key that ${problem}` };
      pending.push({ value: entry, path: [...path, key] });
    }
  }
  return null;
}

/**
 * Wraps a schema so input it would accept but no column can hold fails validation first (before any of the
 * schema's own refinements run on it). Used for realtime frames, which have no request hook to do it.
 */
export function storableInput<Schema extends z.ZodType>(schema: Schema) {
  return z
    .unknown()
    .superRefine((value, context) => {
      const found = findUnstorableInput(value);
      if (found) context.addIssue({ code: 'custom', path: found.path, message: found.problem });
    })
    .pipe(schema);
}
