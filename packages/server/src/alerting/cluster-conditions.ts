import { NON_TENANT_CHAINS } from '../compliance/audit/audit-entry.ts';
import { unsignedTailDue } from '../compliance/audit/audit-tail.ts';
import { dsrStore } from '../compliance/gdpr/dsr-store.ts';
import type { Storage } from '../storage/database.ts';
import { type AlertCondition, type AlertFinding, DAY_MS } from './alert-condition.ts';

/**
 * Conditions of the shared database, evaluated once cluster-wide by the `alerts.cluster` scheduled task.
 * They read each tenant in its own tenant transaction (row-level security applies), and report ids only.
 */

async function tenantIds(storage: Storage): Promise<string[]> {
  const rows = await storage.withSystem((tx) =>
    tx.selectFrom('tenants').select('id').orderBy('id').execute(),
  );
  return rows.map((row) => row.id);
}

/** Requests looked at per tenant and evaluation: the nearest deadlines first. */
const DSR_LIMIT = 100;

async function openRequests(storage: Storage, now: number) {
  const found: { tenantId: string; id: string; kind: string; dueAt: number }[] = [];
  for (const tenantId of await tenantIds(storage)) {
    const rows = await storage.withTenant(tenantId, (tx) =>
      dsrStore.list(tx, tenantId, { status: 'open', now, limit: DSR_LIMIT }),
    );
    for (const row of rows)
      found.push({ tenantId, id: row.id, kind: row.kind, dueAt: row.extended_until ?? row.deadline_at });
  }
  return found;
}

/**
 * Open data subject requests due within `days` (warning) or past their deadline (critical). The notice names
 * the request id, its kind, tenant id and deadline — never the data subject.
 */
export function dsrDeadlineConditions(storage: Storage, days: number): AlertCondition[] {
  const describe = (request: { tenantId: string; id: string; kind: string; dueAt: number }) =>
    `Data subject request ${request.id} (${request.kind}, tenant ${request.tenantId}) is due ${new Date(request.dueAt).toISOString()}`;
  return [
    {
      name: 'dsr_deadline_near',
      scope: 'cluster',
      severity: 'warning',
      async evaluate(now) {
        return (await openRequests(storage, now))
          .filter((request) => request.dueAt >= now && request.dueAt - now <= days * DAY_MS)
          .map((request) => ({ subject: request.id, summary: `${describe(request)}.` }));
      },
    },
    {
      name: 'dsr_deadline_passed',
      scope: 'cluster',
      severity: 'critical',
      async evaluate(now) {
        return (await openRequests(storage, now))
          .filter((request) => request.dueAt < now)
          .map((request) => ({
            subject: request.id,
            summary: `${describe(request)} and still open: its deadline has passed.`,
          }));
      },
    },
  ];
}

/**
 * A chain with an entry left unsigned for over three checkpoint intervals: the checkpoint timer is not
 * running, or failing, on every node. Off when time-based checkpoints are (`intervalSeconds` 0).
 */
export function auditCheckpointCondition(storage: Storage, intervalSeconds: number): AlertCondition {
  return {
    name: 'audit_checkpoint_overdue',
    scope: 'cluster',
    severity: 'critical',
    async evaluate(now) {
      const findings: AlertFinding[] = [];
      const unsignedBefore = now - 3 * intervalSeconds * 1000;
      for (const tenantId of [...(await tenantIds(storage)), ...NON_TENANT_CHAINS]) {
        const due = await storage.withTenant(tenantId, (tx) => unsignedTailDue(tx, tenantId, unsignedBefore));
        if (due)
          findings.push({
            subject: tenantId,
            summary: `The audit chain ${NON_TENANT_CHAINS.includes(tenantId) ? tenantId : `of tenant ${tenantId}`} has entries unsigned for over ${3 * intervalSeconds} s (three checkpoint intervals).`,
          });
      }
      return findings;
    },
  };
}

/**
 * A key in use (the newest master key version, an unretired signing key, a tenant's current data or index
 * key) created longer ago than the rotation period. Rotate with `parley keys` (docs/security.md).
 */
export function keyAgeCondition(storage: Storage, rotationDays: number): AlertCondition {
  return {
    name: 'key_rotation_due',
    scope: 'cluster',
    severity: 'warning',
    async evaluate(now) {
      const limit = now - rotationDays * DAY_MS;
      const findings: AlertFinding[] = [];
      const old = (what: string, subject: string, createdAt: number) =>
        findings.push({
          subject,
          summary: `The ${what} was created ${new Date(createdAt).toISOString()}, over the rotation period of ${rotationDays} days.`,
        });
      const { master, signing } = await storage.withSystem(async (tx) => ({
        master: await tx
          .selectFrom('master_key_checks')
          .select(['version', 'created_at'])
          .orderBy('version', 'desc')
          .executeTakeFirst(),
        signing: await tx
          .selectFrom('signing_keys')
          .select(['id', 'created_at'])
          .where('retired_at', 'is', null)
          .execute(),
      }));
      if (master !== undefined && master.created_at < limit)
        old(`master key version ${master.version}`, 'master', master.created_at);
      for (const key of signing)
        if (key.created_at < limit) old(`audit signing key ${key.id}`, `signing.${key.id}`, key.created_at);
      for (const tenantId of await tenantIds(storage)) {
        const keys = await storage.withTenant(tenantId, (tx) =>
          tx
            .selectFrom('tenant_keys')
            .select(['purpose', 'version', 'created_at'])
            .where('tenant_id', '=', tenantId)
            .where('retired_at', 'is', null)
            .execute(),
        );
        const newest = new Map<string, { version: number; created_at: number }>();
        for (const key of keys)
          if ((newest.get(key.purpose)?.version ?? -1) < key.version) newest.set(key.purpose, key);
        for (const [purpose, key] of newest)
          if (key.created_at < limit)
            old(
              `${purpose} key version ${key.version} of tenant ${tenantId}`,
              `tenant.${tenantId}.${purpose}`,
              key.created_at,
            );
      }
      return findings;
    },
  };
}
