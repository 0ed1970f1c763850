import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../app-error.ts';

/**
 * The console's own policy (docs/console.md): scripts, styles, images and API calls from this origin only — no
 * inline script or style, no eval — and the page may not be framed. The QR code of MFA enrolment is a `data:`
 * image, hence `img-src data:`. Every other response keeps the API's `default-src 'none'`.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** The console's built files (`packages/console/dist`), or undefined when the console package is not installed. */
export function consoleDistDir(): string | undefined {
  try {
    const manifest = createRequire(import.meta.url).resolve('@parley/console/package.json');
    return path.join(path.dirname(manifest), 'dist');
  } catch {
    return undefined;
  }
}

/** A file under `root` named by the URL's path, or undefined when the path leaves it or names no file. */
async function fileUnder(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.split('/').some((segment) => segment === '..')) return undefined;
  const file = path.resolve(root, `.${path.posix.sep}${decoded}`);
  if (file !== root && !file.startsWith(root + path.sep)) return undefined;
  const info = await stat(file).catch(() => undefined);
  return info?.isFile() === true ? file : undefined;
}

async function sendFile(reply: FastifyReply, file: string, immutable: boolean): Promise<FastifyReply> {
  const body = await readFile(file);
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .type(CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream')
    .send(body);
}

/**
 * Serves the web console at `/console/` and the chat web app at `/app/`: hashed assets (`/console/assets/…`) cached for a year, anything else
 * that names no file (a console route such as `/console/users`) answered with `index.html`, revalidated each
 * time. The security headers of every response (HSTS, nosniff, `X-Frame-Options: DENY`, no referrer) stay;
 * the CSP is the console's. Not an API route: it takes no token and is not in the OpenAPI document.
 */
export function installConsole(fastify: FastifyInstance, distDir: string): void {
  const root = path.resolve(distDir);
  // Static files, not API operations: left out of the OpenAPI document.
  const options = { config: { access: { kind: 'public' } }, schema: { hide: true } } as const;
  fastify.get('/console', options, (_request, reply) => reply.redirect('/console/', 308));
  fastify.get<{ Params: { '*': string } }>('/console/*', options, async (request, reply) => {
    const wanted = request.params['*'];
    const file = wanted === '' ? undefined : await fileUnder(root, wanted);
    if (file) return sendFile(reply, file, wanted.startsWith('assets/'));
    // A missing asset is a 404; a console route (no file extension) is the single-page app.
    if (wanted.startsWith('assets/') || path.extname(wanted) !== '') throw new AppError('not_found');
    const index = await fileUnder(root, 'index.html');
    if (!index) throw new AppError('not_found', 'The console is not built (npm run build).');
    return sendFile(reply, index, false);
  });
  // The chat web app (docs/chat-app.md): one page, `app.html` of the same build, for every path under `/app/`;
  // its scripts and styles are the console's hashed files under `/console/assets/`. Same CSP and headers.
  fastify.get('/app', options, (_request, reply) => reply.redirect('/app/', 308));
  fastify.get<{ Params: { '*': string } }>('/app/*', options, async (request, reply) => {
    if (path.extname(request.params['*']) !== '') throw new AppError('not_found');
    const page = await fileUnder(root, 'app.html');
    if (!page) throw new AppError('not_found', 'The chat app is not built (npm run build).');
    return sendFile(reply, page, false);
  });
}
