import { errorCatalogue } from '@parley/protocol';

/**
 * The error catalogue as the Markdown table in docs/errors.md (`npm run docs` writes it; a test keeps the file,
 * the catalogue and the OpenAPI document's error answers equal).
 */
export function errorTableMarkdown(): string {
  return [
    '| Code | HTTP status | Meaning |',
    '| --- | --- | --- |',
    ...Object.entries(errorCatalogue).map(
      ([code, { status, message }]) => `| \`${code}\` | ${status} | ${message} |`,
    ),
  ].join('\n');
}
