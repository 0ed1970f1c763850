import type { SearchHighlight } from '@parley/protocol';
import type { ReactNode } from 'react';

/**
 * A search snippet with its matches marked: the text is split at the highlight ranges and each part rendered
 * as text (never as HTML), so markup in a message stays inert.
 */
export function Highlighted({ text, ranges }: { text: string; ranges: readonly SearchHighlight[] }) {
  const parts: ReactNode[] = [];
  let at = 0;
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  for (const range of sorted) {
    const start = Math.max(range.start, at);
    const end = Math.min(range.end, text.length);
    if (end <= start) continue;
    if (start > at) parts.push(text.slice(at, start));
    parts.push(<mark key={start}>{text.slice(start, end)}</mark>);
    at = end;
  }
  if (at < text.length) parts.push(text.slice(at));
  return <>{parts}</>;
}
