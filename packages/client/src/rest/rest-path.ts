/**
 * A request path whose every interpolated value is one URL-encoded segment: `path\`/v1/dialogs/${id}\``.
 * An id holding `/`, `?` or `#` therefore stays inside its segment, and an emoji is sent as UTF-8. A value
 * that is all of a segment and is `.` or `..` cannot be encoded so that URL parsing keeps it (`%2e` counts as
 * a dot): the client refuses such a path with a `TypeError` before sending it.
 */
export function path(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  return strings.reduce(
    (joined, literal, index) =>
      index === 0 ? literal : `${joined}${encodeURIComponent(String(values[index - 1]))}${literal}`,
    '',
  );
}

/** A query value; `undefined` leaves the parameter out. */
export type QueryValue = string | number | boolean | undefined;

/** `base` with the defined parameters appended as a URL-encoded query string (none: `base` unchanged). */
export function withQuery(base: string, query: Record<string, QueryValue>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
  const text = params.toString();
  return text === '' ? base : `${base}?${text}`;
}
