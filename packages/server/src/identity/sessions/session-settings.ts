import type { TenantTx } from '../../storage/database.ts';
import { sessionStore } from './session-store.ts';

/** Token lifetimes in seconds, for a tenant without stored settings. */
const DEFAULT_SETTINGS = { accessTtl: 3600, idleTimeout: 900, refreshTtl: 2_592_000 };

/**
 * The tenant's token lifetimes (seconds). Read in the caller's transaction each time rather than cached:
 * an administrator shortening the idle timeout expects it to hold from the next request on.
 */
export async function tokenSettings(tx: TenantTx, tenantId: string) {
  const row = await sessionStore.settings(tx, tenantId);
  return row
    ? {
        accessTtl: row.access_token_ttl_seconds,
        idleTimeout: row.idle_timeout_seconds,
        refreshTtl: row.refresh_token_ttl_seconds,
      }
    : DEFAULT_SETTINGS;
}
