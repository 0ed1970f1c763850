import type { Bus } from '../bus/bus.ts';
import type { AuditLog } from '../compliance/audit/audit-log.ts';
import type { ParleyMetrics } from './metrics.ts';

/** The bus, counting publishes that fail (Redis unreachable); everything else passes through unchanged. */
export function meterBus(bus: Bus, metrics: Pick<ParleyMetrics, 'bus'>): Bus {
  return {
    async publish(channel, message) {
      try {
        return await bus.publish(channel, message);
      } catch (error) {
        metrics.bus.publishFailed();
        throw error;
      }
    },
    subscribe: (channel, handler) => bus.subscribe(channel, handler),
    get reliable() {
      return bus.reliable;
    },
    onReliabilityChange: (listener) => {
      bus.onReliabilityChange(listener);
    },
    close: () => bus.close(),
  };
}

/**
 * Counts the security events the audit log records (failed proofs of identity, lockouts) as metrics, after
 * each entry is written: the audit entry is the one place every such failure passes, whichever service saw
 * it. Only the action and the reason code are read, never the actor or the details' personal data.
 */
export function meterAuditedSecurityEvents(audit: AuditLog, metrics: Pick<ParleyMetrics, 'security'>): void {
  const append = audit.append.bind(audit);
  audit.append = async (tx, tenantId, input) => {
    const written = await append(tx, tenantId, input);
    const { action } = input;
    if (action === 'auth.login_failed' || action === 'auth.account_locked') {
      const reason = (input.details as { reason?: unknown } | undefined)?.reason;
      const secondFactor = typeof reason === 'string' && reason.includes('second_factor');
      metrics.security.authFailed(secondFactor ? 'second_factor' : 'password');
      if (action === 'auth.account_locked') metrics.security.lockedOut();
    } else if (action === 'auth.mfa_enrollment_failed') {
      metrics.security.authFailed('second_factor');
    }
    return written;
  };
}
