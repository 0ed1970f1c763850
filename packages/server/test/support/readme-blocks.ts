/**
 * The fenced code blocks of a Markdown file, with the `## ` section each sits in and the test marker above it.
 *
 * A marker is an HTML comment on the last non-blank line before a block's opening fence (invisible on GitHub):
 * - `<!-- readme-test: not run: REASON -->` — a command block deliberately not run, and why;
 * - `<!-- readme-test: file NAME -->` — a file the reader saves (the test writes it as NAME before running on);
 * - `<!-- readme-test: server banner -->` — what `parley start` prints, compared with what it does print.
 * Any other `readme-test` comment, or one that no block follows, is an error: a typo must not skip a block.
 */

export type ReadmeMarker =
  { kind: 'not-run'; reason: string } | { kind: 'file'; name: string } | { kind: 'server-banner' };

export interface ReadmeBlock {
  /** 1-based line of the opening fence, for messages. */
  line: number;
  /** The `## ` heading above the block ('' before the first one). */
  section: string;
  /** The fence's info string (`sh`, `js`, `text`, …); '' when none. */
  lang: string;
  /** The lines between the fences, joined with `\n`. */
  text: string;
  marker?: ReadmeMarker;
}

/** Languages whose blocks are commands or programs: each is run, written as a file, or marked not run. */
export const commandLanguages = new Set(['sh', 'bash', 'shell', 'console', 'js', 'mjs', 'javascript', 'ts']);

const markerPattern = /^<!--\s*readme-test:\s*(.*?)\s*-->$/;
const fencePattern = /^\s*```(\S*)\s*$/;

function parseMarker(body: string, line: number): ReadmeMarker {
  const notRun = /^not run:\s*(\S.*)$/.exec(body);
  if (notRun?.[1] !== undefined) return { kind: 'not-run', reason: notRun[1] };
  const file = /^file\s+([\w.-]+)$/.exec(body);
  if (file?.[1] !== undefined) return { kind: 'file', name: file[1] };
  if (body === 'server banner') return { kind: 'server-banner' };
  throw new Error(`line ${String(line)}: unknown readme-test marker "${body}"`);
}

export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  let section = '';
  let pending: { marker: ReadmeMarker; line: number } | undefined;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? '';
    const trimmed = line.trim();
    if (trimmed === '') continue;
    const fence = fencePattern.exec(line);
    if (fence) {
      const start = index;
      const body: string[] = [];
      for (index++; index < lines.length && !/^\s*```\s*$/.test(lines[index] ?? ''); index++) {
        body.push(lines[index] ?? '');
      }
      if (index >= lines.length) throw new Error(`line ${String(start + 1)}: code block never closed`);
      blocks.push({
        line: start + 1,
        section,
        lang: fence[1] ?? '',
        text: body.join('\n'),
        ...(pending ? { marker: pending.marker } : {}),
      });
      pending = undefined;
      continue;
    }
    if (pending)
      throw new Error(`line ${String(pending.line)}: readme-test marker not followed by a code block`);
    const marker = markerPattern.exec(trimmed);
    if (marker?.[1] !== undefined) {
      pending = { marker: parseMarker(marker[1], index + 1), line: index + 1 };
      continue;
    }
    if (trimmed.startsWith('<!--') && trimmed.includes('readme-test'))
      throw new Error(`line ${String(index + 1)}: malformed readme-test marker`);
    const heading = /^## (.+)$/.exec(line);
    if (heading?.[1] !== undefined) section = heading[1].trim();
  }
  if (pending)
    throw new Error(`line ${String(pending.line)}: readme-test marker not followed by a code block`);
  return blocks;
}
