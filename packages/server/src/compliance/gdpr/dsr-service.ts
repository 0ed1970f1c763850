import type {
  DataSubjectRequestBody,
  DataSubjectRequestKind,
  DataSubjectRequestSource,
  OwnDataSubjectRequestBody,
  UpdateDataSubjectRequestBody,
} from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import { KeyDestroyedError } from '../../crypto/keyring.ts';
import { newId } from '../../ids.ts';
import { decodeKeysetCursor, encodeKeysetCursor } from '../../keyset-cursor.ts';
import type { UserService } from '../../identity/user-service.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { AuditInput } from '../audit/audit-entry.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/request-context.ts';
import { type DsrListFilter, type DsrRow, dsrStore, openStatuses } from './dsr-store.ts';

const DAY_MS = 86_400_000;
/** GDPR Art. 12(3): one month to answer (taken as 30 days) … */
export const RESPONSE_DAYS = 30;
/** … extendable by two further months where necessary, with the reasons given within the first month. */
export const MAX_RESPONSE_DAYS = 90;
/** A person files few requests: their own list is not paged. */
const OWN_LIST_LIMIT = 200;

/** Who acts on a request, and the request behind the act, for the audit entry. */
export interface DsrAudited {
  actor: AuditInput['actor'];
  context: RequestContext;
}

/** A new request. `receivedAt` starts the clock (now when absent; never in the future). */
export interface NewDataSubjectRequest {
  kind: DataSubjectRequestKind;
  subjectId: string;
  /** The user who filed or recorded it; null when the server itself opened it. */
  requestedBy: string | null;
  source: DataSubjectRequestSource;
  receivedAt?: number | undefined;
  /** The subject's own words; sealed under the subject's key. */
  note?: string | undefined;
}

export type DsrChange = UpdateDataSubjectRequestBody;

export interface DsrQuery {
  status: DsrListFilter['status'];
  overdue?: boolean | undefined;
  kind?: DataSubjectRequestKind | undefined;
  subjectId?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface DsrServiceDeps {
  storage: Storage;
  fieldCipher: FieldCipher;
  users: Pick<UserService, 'getUserIn'>;
  audit: AuditLog;
  clock: Clock;
}

const isOpen = (row: DsrRow) => (openStatuses as readonly string[]).includes(row.status);
const dueOf = (row: DsrRow) => row.extended_until ?? row.deadline_at;
const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
const handlerOf = (actor: AuditInput['actor']) => (actor.type === 'user' ? (actor.id ?? null) : null);

/**
 * Data subject requests (GDPR Art. 12, 15-21): every request is a record with its clock, status and outcome,
 * so that none is forgotten and each answer can be shown to have come in time. Export, erasure, rectification
 * and restriction open and close their records through this service (the `…In` functions join the caller's
 * transaction); every change is audited in the transaction that makes it, by kind and status only.
 */
export function createDsrService(deps: DsrServiceDeps) {
  const { storage, fieldCipher, users, audit, clock } = deps;
  const at = (tenantId: string, rowId: string, column: 'note' | 'extension_reason' | 'outcome') => ({
    tenantId,
    table: 'data_subject_requests',
    column,
    rowId,
  });

  /** Opens a sealed field; the subject's note is gone (null) once their key was destroyed. */
  async function openField(tx: TenantTx, row: DsrRow, column: 'note' | 'extension_reason' | 'outcome') {
    const envelope = row[column];
    if (envelope === null) return null;
    try {
      return await fieldCipher.open(tx, at(row.tenant_id, row.id, column), envelope, row.subject_id);
    } catch (error) {
      if (error instanceof KeyDestroyedError) return null;
      throw error;
    }
  }

  /** A request as its subject sees it; administrators see who filed and handled it too. */
  async function presentOwn(tx: TenantTx, row: DsrRow): Promise<OwnDataSubjectRequestBody> {
    return {
      id: row.id,
      subjectId: row.subject_id,
      kind: row.kind,
      source: row.source,
      status: row.status,
      receivedAt: new Date(row.received_at).toISOString(),
      deadlineAt: new Date(row.deadline_at).toISOString(),
      extendedUntil: iso(row.extended_until),
      extensionReason: await openField(tx, row, 'extension_reason'),
      dueAt: new Date(dueOf(row)).toISOString(),
      overdue: isOpen(row) && dueOf(row) < clock.now(),
      note: await openField(tx, row, 'note'),
      outcome: await openField(tx, row, 'outcome'),
      closedAt: iso(row.closed_at),
      updatedAt: new Date(row.updated_at).toISOString(),
    };
  }

  async function present(tx: TenantTx, row: DsrRow): Promise<DataSubjectRequestBody> {
    return { ...(await presentOwn(tx, row)), requestedBy: row.requested_by, handledBy: row.handled_by };
  }

  const record = (tx: TenantTx, tenantId: string, row: DsrRow, action: string, audited: DsrAudited) =>
    audit.append(tx, tenantId, {
      actor: audited.actor,
      action,
      target: { type: 'data_subject_request', id: row.id },
      outcome: 'success',
      ...audited.context,
      // Kind and state only: the texts may hold personal data and the details are stored in the clear.
      details: { kind: row.kind, subjectId: row.subject_id, status: row.status },
    });

  async function lockOpen(tx: TenantTx, tenantId: string, requestId: string): Promise<DsrRow> {
    const row = await dsrStore.lock(tx, tenantId, requestId, storage.dialect === 'postgres');
    if (!row) throw new AppError('not_found');
    if (!isOpen(row)) throw new AppError('request_closed');
    return row;
  }

  const service = {
    /** Opens a request inside the caller's transaction; the subject must be a user of the tenant. */
    async createIn(
      tx: TenantTx,
      tenantId: string,
      input: NewDataSubjectRequest,
      audited: DsrAudited,
    ): Promise<DsrRow> {
      const subject = await users.getUserIn(tx, tenantId, input.subjectId);
      // Sealed under the subject's key, which an erasure destroyed: nothing could ever read it.
      if (input.note !== undefined && subject.status === 'erased')
        throw new AppError('conflict', 'The subject was erased: no note can be kept for them.');
      const now = clock.now();
      const receivedAt = input.receivedAt ?? now;
      if (receivedAt > now)
        throw new AppError('validation_failed', 'A request cannot be received later than now.');
      const id = newId();
      const row: DsrRow = {
        id,
        tenant_id: tenantId,
        subject_id: input.subjectId,
        kind: input.kind,
        source: input.source,
        requested_by: input.requestedBy,
        status: 'received',
        received_at: receivedAt,
        deadline_at: receivedAt + RESPONSE_DAYS * DAY_MS,
        extended_until: null,
        extension_reason: null,
        note:
          input.note === undefined
            ? null
            : await fieldCipher.sealForUser(tx, at(tenantId, id, 'note'), input.subjectId, input.note),
        outcome: null,
        handled_by: null,
        closed_at: null,
        created_at: now,
        updated_at: now,
      };
      await dsrStore.insert(tx, row);
      await record(tx, tenantId, row, 'privacy.request_received', audited);
      return row;
    },

    /**
     * Starts work on an open request, or closes it with an outcome (no personal data: the subject reads it).
     * A closed request stays closed.
     */
    async transitionIn(
      tx: TenantTx,
      tenantId: string,
      requestId: string,
      change: DsrChange,
      audited: DsrAudited,
    ): Promise<DsrRow> {
      const row = await lockOpen(tx, tenantId, requestId);
      const now = clock.now();
      const next: DsrRow = {
        ...row,
        status: change.status,
        handled_by: handlerOf(audited.actor),
        updated_at: now,
      };
      if (change.status !== 'in_progress') {
        next.outcome = await fieldCipher.sealForTenant(tx, at(tenantId, row.id, 'outcome'), change.outcome);
        next.closed_at = now;
      }
      await dsrStore.update(tx, tenantId, row.id, {
        status: next.status,
        outcome: next.outcome,
        closed_at: next.closed_at,
        handled_by: next.handled_by,
        updated_at: next.updated_at,
      });
      await record(tx, tenantId, next, `privacy.request_${change.status}`, audited);
      return next;
    },

    /**
     * The open request of `subjectId` that `requestId` names, of one of `kinds`: an act that answers a
     * request (a correction, a restriction) must answer the right one.
     */
    async openRequestIn(
      tx: TenantTx,
      tenantId: string,
      requestId: string,
      subjectId: string,
      kinds: readonly DataSubjectRequestKind[],
    ): Promise<DsrRow> {
      const row = await lockOpen(tx, tenantId, requestId);
      if (row.subject_id !== subjectId || !kinds.includes(row.kind))
        throw new AppError('conflict', `The request is not a ${kinds.join(' or ')} request of this user.`);
      return row;
    },

    /** An administrator records a request received elsewhere (mail, letter, phone). */
    async record(
      tenantId: string,
      input: NewDataSubjectRequest,
      audited: DsrAudited,
    ): Promise<DataSubjectRequestBody> {
      return storage.withTenant(tenantId, async (tx) =>
        present(tx, await service.createIn(tx, tenantId, input, audited)),
      );
    },

    /** The data subject files a request themselves. */
    async fileOwn(
      tenantId: string,
      input: Pick<NewDataSubjectRequest, 'kind' | 'note' | 'subjectId'>,
      audited: DsrAudited,
    ): Promise<OwnDataSubjectRequestBody> {
      return storage.withTenant(tenantId, async (tx) => {
        const row = await service.createIn(
          tx,
          tenantId,
          { ...input, requestedBy: input.subjectId, source: 'subject' },
          audited,
        );
        return presentOwn(tx, row);
      });
    },

    async transition(
      tenantId: string,
      requestId: string,
      change: DsrChange,
      audited: DsrAudited,
    ): Promise<DataSubjectRequestBody> {
      return storage.withTenant(tenantId, async (tx) =>
        present(tx, await service.transitionIn(tx, tenantId, requestId, change, audited)),
      );
    },

    /**
     * Moves the deadline of an open request, with the reason the subject will be told (Art. 12(3)). It may
     * only move later, and never past 90 days after receipt.
     */
    async extend(
      tenantId: string,
      requestId: string,
      extension: { until: number; reason: string },
      audited: DsrAudited,
    ): Promise<DataSubjectRequestBody> {
      return storage.withTenant(tenantId, async (tx) => {
        const row = await lockOpen(tx, tenantId, requestId);
        if (extension.until > row.received_at + MAX_RESPONSE_DAYS * DAY_MS)
          throw new AppError('deadline_extension_limit');
        if (extension.until <= dueOf(row))
          throw new AppError('validation_failed', 'An extension must move the deadline later.');
        const next: DsrRow = {
          ...row,
          extended_until: extension.until,
          extension_reason: await fieldCipher.sealForTenant(
            tx,
            at(tenantId, row.id, 'extension_reason'),
            extension.reason,
          ),
          handled_by: handlerOf(audited.actor),
          updated_at: clock.now(),
        };
        await dsrStore.update(tx, tenantId, row.id, {
          extended_until: next.extended_until,
          extension_reason: next.extension_reason,
          handled_by: next.handled_by,
          updated_at: next.updated_at,
        });
        await record(tx, tenantId, next, 'privacy.request_extended', audited);
        return present(tx, next);
      });
    },

    async get(tenantId: string, requestId: string): Promise<DataSubjectRequestBody> {
      return storage.withTenant(tenantId, async (tx) => {
        const row = await dsrStore.find(tx, tenantId, requestId);
        if (!row) throw new AppError('not_found');
        return present(tx, row);
      });
    },

    /** Open requests soonest deadline first (overdue ones lead), or closed ones newest first. */
    async list(
      tenantId: string,
      query: DsrQuery,
    ): Promise<{ requests: DataSubjectRequestBody[]; nextCursor: string | null }> {
      return storage.withTenant(tenantId, async (tx) => {
        const rows = await dsrStore.list(tx, tenantId, {
          status: query.status,
          ...(query.overdue === undefined ? {} : { overdue: query.overdue }),
          ...(query.kind === undefined ? {} : { kind: query.kind }),
          ...(query.subjectId === undefined ? {} : { subjectId: query.subjectId }),
          now: clock.now(),
          limit: query.limit,
          ...(query.cursor === undefined ? {} : { after: decodeKeysetCursor(query.cursor) }),
        });
        const page = rows.slice(0, query.limit);
        const last = page.at(-1);
        const position = (row: DsrRow) => ({
          at: query.status === 'open' ? dueOf(row) : row.received_at,
          id: row.id,
        });
        return {
          requests: await Promise.all(page.map((row) => present(tx, row))),
          nextCursor: rows.length > query.limit && last ? encodeKeysetCursor(position(last)) : null,
        };
      });
    },

    /** The subject's own requests, newest first. */
    async listOwn(tenantId: string, subjectId: string): Promise<OwnDataSubjectRequestBody[]> {
      return storage.withTenant(tenantId, async (tx) => {
        const rows = await dsrStore.forSubject(tx, tenantId, subjectId, OWN_LIST_LIMIT);
        return Promise.all(rows.map((row) => presentOwn(tx, row)));
      });
    },
  };
  return service;
}

export type DsrService = ReturnType<typeof createDsrService>;
