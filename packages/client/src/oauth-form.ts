import { ParleyAuthError } from './auth-error.ts';
import type { Tokens } from './token-store.ts';

/** An OAuth endpoint's answer, read once: status, JSON body (empty when it was not JSON), Retry-After. */
export interface OAuthAnswer {
  status: number;
  body: Record<string, unknown>;
  retryAfterSeconds?: number;
}

/** POSTs `application/x-www-form-urlencoded` fields, as RFC 6749 §4.3.2/§6 and RFC 7009 §2.1 require. */
export async function postForm(
  fetcher: typeof fetch,
  url: string,
  fields: Record<string, string>,
): Promise<OAuthAnswer> {
  const response = await fetcher(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(fields).toString(),
  });
  const text = await response.text();
  const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN);
  return {
    status: response.status,
    body: parseObject(text),
    ...(Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {}),
  };
}

/**
 * The tokens of a successful RFC 6749 §5.1 answer; any other answer throws {@link ParleyAuthError}.
 * `previousRefreshToken` is kept when a refresh answer carries none (RFC 6749 §6 allows that).
 */
export function tokensFrom(answer: OAuthAnswer, previousRefreshToken?: string): Tokens {
  const {
    access_token: accessToken,
    refresh_token: refreshToken,
    expires_in: expiresIn,
    scope,
  } = answer.body;
  if (answer.status !== 200) throw ParleyAuthError.from(answer);
  if (typeof accessToken !== 'string')
    throw new ParleyAuthError('server_error', 'The token answer has no access token.', answer.status);
  return {
    accessToken,
    refreshToken: typeof refreshToken === 'string' ? refreshToken : previousRefreshToken,
    expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined,
    scope: typeof scope === 'string' ? scope : undefined,
  };
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    // Not JSON (a proxy's error page, an empty body): judged by its status alone.
    return {};
  }
}
