import type { Clock } from '../../clock.ts';
import type { ScheduledTask } from '../../jobs/index.ts';
import type { Storage } from '../../storage/database.ts';
import type { AuditMinimiser } from '../audit/audit-minimiser.ts';
import { truncateIp } from './ip-truncation.ts';
import type { SessionDeviceMinimiser } from './session-device-minimiser.ts';

/**
 * The default of the tenant rule `ipMinimisationDays`, used until the tenant's retention rules are read (and
 * by tenants that set none): IP addresses and user agents are kept in full for 30 days.
 */
export const DEFAULT_IP_MINIMISATION_DAYS = 30;

const DAY_MS = 86_400_000;

/** What one pass did, per tenant with anything minimised. */
export interface MinimisationPass {
  sessions: number;
  auditEntries: number;
  failed: { tenantId: string; error: unknown }[];
}

/**
 * Data minimisation, every hour once cluster-wide (`retention.minimise-network-data`): for every tenant,
 * the ip addresses kept with sessions (the sign-in record of each device) and audit entries older than the
 * tenant's `ipMinimisationDays` are truncated (IPv4 to /24, IPv6 to /48) and their user agents dropped. A
 * tenant that fails is reported and the pass goes on; the next pass tries it again (the work is idempotent).
 */
export function createNetworkDataMinimisation(deps: {
  storage: Storage;
  clock: Clock;
  sessions: Pick<SessionDeviceMinimiser, 'minimise'>;
  audit: Pick<AuditMinimiser, 'minimise'>;
  /** The tenant's rule, in days (`DEFAULT_IP_MINIMISATION_DAYS` when the tenant set none). */
  ipMinimisationDays: (tenantId: string) => Promise<number>;
}) {
  const { storage, clock } = deps;

  async function minimiseTenant(tenantId: string, pass: MinimisationPass): Promise<void> {
    const days = await deps.ipMinimisationDays(tenantId);
    const olderThan = clock.now() - days * DAY_MS;
    pass.sessions += await deps.sessions.minimise(tenantId, olderThan, truncateIp);
    pass.auditEntries += await deps.audit.minimise(tenantId, olderThan, truncateIp);
  }

  return {
    /** One pass over every tenant; `signal` stops it between tenants. */
    async run(signal?: AbortSignal): Promise<MinimisationPass> {
      const tenants = await storage.withSystem((tx) => tx.selectFrom('tenants').select('id').execute());
      const pass: MinimisationPass = { sessions: 0, auditEntries: 0, failed: [] };
      for (const { id } of tenants) {
        signal?.throwIfAborted();
        try {
          await minimiseTenant(id, pass);
        } catch (error) {
          pass.failed.push({ tenantId: id, error });
        }
      }
      return pass;
    },
  };
}

export type NetworkDataMinimisation = ReturnType<typeof createNetworkDataMinimisation>;

/** The scheduled task; a pass with a failed tenant fails (logged with its code) and is retried. */
export function createNetworkDataMinimisationTask(minimisation: NetworkDataMinimisation): ScheduledTask {
  return {
    name: 'retention.minimise-network-data',
    cron: '17 * * * *',
    async run({ signal }) {
      const { failed } = await minimisation.run(signal);
      const [first] = failed;
      if (first) throw first.error;
    },
  };
}
