import type { LogCapture } from './start-server.ts';

type Entry = Record<string, unknown>;

/**
 * Resolves with the first captured log line that matches, as soon as the server writes it (the event, not a
 * poll): lines already written are searched first, then each new one as it arrives.
 */
export function logLine(logs: LogCapture, match: (entry: Entry) => boolean): Promise<Entry> {
  const seen = logs.entries().find(match);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve) => {
    const push = logs.lines.push.bind(logs.lines);
    logs.lines.push = (...chunks: string[]) => {
      const length = push(...chunks);
      const hit = chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Entry)
        .find(match);
      if (hit) {
        logs.lines.push = push;
        resolve(hit);
      }
      return length;
    };
  });
}
