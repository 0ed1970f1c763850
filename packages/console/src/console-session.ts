import { ParleyClient, type SignedIn } from '@parley/client';
import type { Permission, ProfileBody } from '@parley/protocol';

/**
 * The signed-in user as the console sees them. Tokens live only inside the SDK's `MemoryTokenStore` (the
 * default): never in localStorage, sessionStorage, cookies or the URL, so a reload signs the user out.
 */
export interface ConsoleUser {
  profile: ProfileBody;
  permissions: ReadonlySet<Permission>;
  /** The server narrowed the session until the user acts (`password_change_required`, …). */
  notice: SignedIn['notice'];
}

/** One SDK client per page load, on the origin that served the console. */
export function newClient(): ParleyClient {
  return new ParleyClient({ baseUrl: window.location.origin });
}

/** The scopes the console asks for: its own profile, tenant administration and the audit log. */
export const CONSOLE_SCOPE = 'profile admin audit';

export async function loadUser(client: ParleyClient, notice: SignedIn['notice']): Promise<ConsoleUser> {
  const profile = await client.account.me();
  return { profile, permissions: new Set(profile.permissions ?? []), notice };
}
