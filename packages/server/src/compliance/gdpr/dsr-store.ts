import { sql } from 'kysely';
import type { TenantTx } from '../../storage/database.ts';
import type { DataSubjectRequestsTable } from '../../storage/tables.ts';

export type DsrRow = DataSubjectRequestsTable;

/** The statuses of a request still being worked on. */
export const openStatuses = ['received', 'in_progress'] as const;
const closedStatuses = ['completed', 'refused', 'cancelled'] as const;

/** The deadline in force: the extension when there is one, else the statutory deadline. */
const dueAt = sql<number>`coalesce(extended_until, deadline_at)`;

export interface DsrListFilter {
  status: 'open' | 'closed' | 'all';
  /** Only open requests past (true) or within (false) their deadline at `now`. */
  overdue?: boolean;
  kind?: DsrRow['kind'];
  subjectId?: string;
  now: number;
  limit: number;
  /** Keyset position: open lists go by (due, id) ascending, the others by (received, id) descending. */
  after?: { at: number; id: string };
}

/** Kysely queries for data subject requests; every query is scoped to the transaction's tenant. */
export const dsrStore = {
  async insert(tx: TenantTx, row: DsrRow): Promise<void> {
    await tx.insertInto('data_subject_requests').values(row).execute();
  },

  async find(tx: TenantTx, tenantId: string, id: string): Promise<DsrRow | undefined> {
    return tx
      .selectFrom('data_subject_requests')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
  },

  /** Reads the request locked until the transaction ends (PostgreSQL; SQLite serialises writers already). */
  async lock(tx: TenantTx, tenantId: string, id: string, postgres: boolean): Promise<DsrRow | undefined> {
    return tx
      .selectFrom('data_subject_requests')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .$if(postgres, (query) => query.forUpdate())
      .executeTakeFirst();
  },

  async update(tx: TenantTx, tenantId: string, id: string, changes: Partial<DsrRow>): Promise<void> {
    await tx
      .updateTable('data_subject_requests')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  },

  /** One page of requests, `limit + 1` rows so the caller can tell whether more follow. */
  async list(tx: TenantTx, tenantId: string, filter: DsrListFilter): Promise<DsrRow[]> {
    const byDeadline = filter.status === 'open';
    const { after } = filter;
    return tx
      .selectFrom('data_subject_requests')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .$if(filter.status === 'open' || filter.overdue !== undefined, (query) =>
        query.where('status', 'in', [...openStatuses]),
      )
      .$if(filter.status === 'closed', (query) => query.where('status', 'in', [...closedStatuses]))
      .$if(filter.overdue === true, (query) => query.where(dueAt, '<', filter.now))
      .$if(filter.overdue === false, (query) => query.where(dueAt, '>=', filter.now))
      .$if(filter.kind !== undefined, (query) => query.where('kind', '=', filter.kind ?? 'access'))
      .$if(filter.subjectId !== undefined, (query) => query.where('subject_id', '=', filter.subjectId ?? ''))
      .$if(after !== undefined && byDeadline, (query) =>
        query.where((eb) =>
          eb.or([
            eb(dueAt, '>', after?.at ?? 0),
            eb.and([eb(dueAt, '=', after?.at ?? 0), eb('id', '>', after?.id ?? '')]),
          ]),
        ),
      )
      .$if(after !== undefined && !byDeadline, (query) =>
        query.where((eb) =>
          eb.or([
            eb('received_at', '<', after?.at ?? 0),
            eb.and([eb('received_at', '=', after?.at ?? 0), eb('id', '<', after?.id ?? '')]),
          ]),
        ),
      )
      .$if(byDeadline, (query) => query.orderBy(dueAt, 'asc').orderBy('id', 'asc'))
      .$if(!byDeadline, (query) => query.orderBy('received_at', 'desc').orderBy('id', 'desc'))
      .limit(filter.limit + 1)
      .execute();
  },

  /** A subject's requests, newest first. */
  async forSubject(tx: TenantTx, tenantId: string, subjectId: string, limit: number): Promise<DsrRow[]> {
    return tx
      .selectFrom('data_subject_requests')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('subject_id', '=', subjectId)
      .orderBy('received_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
  },
};
