import type { Logger } from '../../observability/logger.ts';
import type { Storage } from '../../storage/database.ts';
import type { PostgresSearchIndex } from './postgres-search-index.ts';

/** Pending entries per drain statement: at 1,000 messages a second, a tick's worth and more. */
const BATCH = 1000;
/** A tenant that wrote entries is drained every tick for this long after its last write. */
const ACTIVE_MS = 2000;

export interface SearchTermFollowerOptions {
  storage: Storage;
  index: Pick<PostgresSearchIndex, 'drainPending'>;
  logger: Logger;
  /** How often the tenants that wrote lately are drained. */
  intervalMs?: number;
  /** How often every tenant with pending entries is looked for (those a stopped or dead node left). */
  sweepMs?: number;
}

/**
 * PostgreSQL with deferred search terms (migration 0038): writes the term rows of the entries sends left
 * pending, shortly after they committed, so the send itself does not. Each node drains the tenants it wrote
 * for lately, every `intervalMs`, and looks for any tenant's pending entries every `sweepMs`, so the entries
 * of a node that died are drained by the others. Drains skip rows another node is draining, so nodes never
 * wait for each other. A search never waits for the follower: it drains its tenant's pending entries itself
 * (`PostgresSearchIndex.find`). Draining is an optimisation of when, never of whether: a failed drain leaves
 * the pending rows as they were, for the next tick.
 */
export class SearchTermFollower {
  readonly #options: Required<SearchTermFollowerOptions>;
  /** Per tenant: when it last wrote an entry on this node. */
  readonly #active = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #sinceSweep = 0;
  #closed = false;

  constructor(options: SearchTermFollowerOptions) {
    this.#options = { intervalMs: 50, sweepMs: 5000, ...options };
  }

  /** A tenant wrote entries whose terms wait (called inside the writing transaction, before it commits). */
  pending(tenantId: string): void {
    this.#active.set(tenantId, Date.now());
  }

  start(): void {
    if (this.#timer || this.#closed) return;
    // A first sweep at once: what the last run of this node (or another) left is drained first.
    this.#sinceSweep = this.#options.sweepMs;
    this.#timer = setInterval(() => {
      this.#running ??= this.#tick().finally(() => {
        this.#running = undefined;
      });
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Stops the ticks and waits for a drain under way (what is left stays pending, for any node). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  /** One pass: sweep for tenants when due, then drain every active tenant until it has nothing left. */
  async #tick(): Promise<void> {
    const { storage, logger, intervalMs, sweepMs } = this.#options;
    this.#sinceSweep += intervalMs;
    if (this.#sinceSweep >= sweepMs) {
      this.#sinceSweep = 0;
      try {
        const rows = await storage.withSystem((tx) =>
          tx.selectFrom('message_search_pending').select('tenant_id').distinct().limit(1000).execute(),
        );
        for (const { tenant_id: tenantId } of rows)
          if (!this.#active.has(tenantId)) this.#active.set(tenantId, 0);
      } catch (error) {
        logger.warn({ err: error }, 'search term sweep failed; trying again later');
      }
    }
    for (const [tenantId, wroteAt] of this.#active) {
      if (this.#closed) return;
      try {
        await this.#drain(tenantId);
        // Forgotten only once drained and quiet; a write meanwhile set a new time, so it stays.
        if (Date.now() - wroteAt > ACTIVE_MS && this.#active.get(tenantId) === wroteAt)
          this.#active.delete(tenantId);
      } catch (error) {
        logger.warn({ err: error, tenantId }, 'search term drain failed; trying again later');
      }
    }
  }

  /** Drains the tenant in transactions of `BATCH` entries until fewer than that were left. */
  async #drain(tenantId: string): Promise<void> {
    const { storage, index } = this.#options;
    for (;;) {
      // A maintenance transaction bound to the tenant, as jobs run: row-level security applies from there on.
      const drained = await storage.withSystem(async (system) =>
        index.drainPending(await storage.enterTenant(system, tenantId), tenantId, {
          limit: BATCH,
          skipLocked: true,
        }),
      );
      if (drained < BATCH || this.#closed) return;
    }
  }
}
