import {
  type DataExportBody,
  exportCollectionNames,
  exportCollections,
  exportDocuments,
  type ExportManifest,
  exportPage,
} from '@parley/protocol';
import { expect } from 'vitest';
import type { TestServer } from '../../support/start-server.ts';
import type { World } from './export-world.ts';

type Records = Record<string, Record<string, unknown>[]>;

/** The archive's files checked against the format: every document and page parses with its schema. */
export function readArchiveFiles(files: Map<string, Buffer>, exportId: string) {
  const root = `parley-export-${exportId}/`;
  const records: Records = Object.fromEntries(exportCollectionNames.map((name) => [name, []]));
  const pages: Record<string, number[]> = {};
  const documents = new Map<string, unknown>();
  for (const [path, content] of files) {
    expect(path.startsWith(root), path).toBe(true);
    const name = path.slice(root.length);
    const [folder = '', file = ''] = name.split('/');
    if (name in exportDocuments) {
      const schema = exportDocuments[name as keyof typeof exportDocuments];
      documents.set(name, schema.parse(JSON.parse(content.toString('utf8'))));
    } else if (folder in exportCollections && /^\d{6}\.json$/.test(file)) {
      const page = exportPage.parse(JSON.parse(content.toString('utf8')));
      expect(page.collection).toBe(folder);
      expect(Number(file.slice(0, 6))).toBe(page.page);
      const schema = exportCollections[page.collection];
      for (const record of page.records) records[folder]?.push(schema.parse(record));
      (pages[folder] ??= []).push(page.page);
    } else {
      expect(['README.txt', 'schema.json'].includes(name) || folder === 'files', name).toBe(true);
    }
  }
  const manifest = documents.get('manifest.json') as ExportManifest;
  expect(manifest.exportId).toBe(exportId);
  for (const name of exportCollectionNames) {
    // Pages numbered 1…n without a gap or a repeat, counted right in the manifest.
    const numbers = (pages[name] ?? []).sort((a, b) => a - b);
    expect(numbers).toEqual(numbers.map((_, position) => position + 1));
    expect(manifest.collections[name]).toEqual({
      pages: numbers.length,
      records: records[name]?.length ?? 0,
    });
  }
  return { root, records, documents, manifest };
}

const ids = (rows: readonly Record<string, unknown>[], key = 'id') =>
  rows.map((row) => String(row[key])).sort();

/**
 * Checks an export of `world.subjectId` against the database: every record of the subject is in the archive
 * (and nothing else of theirs is missing), other people's messages follow the export's policy, the subject's
 * uploads are there byte for byte, and nothing of the stranger or of the other tenant is anywhere in it.
 */
export async function expectArchiveMatchesDatabase(
  server: TestServer,
  world: World,
  exported: DataExportBody,
  files: Map<string, Buffer>,
): Promise<void> {
  const { tenantId, subjectId } = world;
  const { root, records, documents, manifest } = readArchiveFiles(files, exported.id);
  const policy = exported.othersMessages;
  expect(manifest).toMatchObject({ subjectId, tenantId, othersMessages: policy, formatVersion: 1 });
  // The account as the database holds it (its sealed fields opened with the subject's key).
  const person = await server.app.services.users.getUser(tenantId, subjectId);
  expect(documents.get('profile.json')).toMatchObject({
    id: subjectId,
    tenantId,
    status: person.status,
    displayName: person.displayName,
    email: person.email,
    phone: person.phone,
    profile: person.profile,
  });

  const db = await server.app.storage.withTenant(tenantId, async (tx) => {
    const completed = await tx
      .selectFrom('audit_log')
      .select('seq')
      .where('tenant_id', '=', tenantId)
      .where('action', '=', 'privacy.export_completed')
      .where('target_id', '=', exported.id)
      .executeTakeFirstOrThrow();
    return {
      sent: await tx
        .selectFrom('messages')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('sender_id', '=', subjectId)
        .execute(),
      // Others' messages the subject can read: the rule of history reads, written out again.
      received: await tx
        .selectFrom('messages as m')
        .innerJoin('dialog_members as dm', (join) =>
          join.onRef('dm.dialog_id', '=', 'm.dialog_id').on('dm.user_id', '=', subjectId),
        )
        .innerJoin('dialogs as d', 'd.id', 'm.dialog_id')
        .select(['m.id', 'm.sender_id'])
        .where('m.tenant_id', '=', tenantId)
        .where('m.sender_id', '!=', subjectId)
        .where('m.deleted_at', 'is', null)
        .where('d.deleted_at', 'is', null)
        .where('dm.left_at', 'is', null)
        .whereRef('m.seq', '>', 'dm.cleared_seq')
        .where((eb) => eb.or([eb('d.hide_history', '=', 0), eb('m.seq', '>', eb.ref('dm.joined_seq'))]))
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('hidden_messages as h')
                .select('h.message_id')
                .whereRef('h.message_id', '=', 'm.id')
                .where('h.user_id', '=', subjectId),
            ),
          ),
        )
        .execute(),
      memberships: await tx
        .selectFrom('dialog_members')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', subjectId)
        .execute(),
      hidden: await tx
        .selectFrom('hidden_messages')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', subjectId)
        .execute(),
      reactions: await tx
        .selectFrom('message_reactions')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', subjectId)
        .execute(),
      blocks: await tx
        .selectFrom('user_blocks')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', subjectId)
        .execute(),
      calls: await tx
        .selectFrom('call_participants')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', subjectId)
        .execute(),
      sessions: await tx
        .selectFrom('sessions')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', subjectId)
        .execute(),
      account: await tx
        .selectFrom('users')
        .select(['presence_visibility', 'avatar_url'])
        .where('tenant_id', '=', tenantId)
        .where('id', '=', subjectId)
        .executeTakeFirstOrThrow(),
      consentStates: await tx
        .selectFrom('consent_states')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', subjectId)
        .execute(),
      restrictions: await tx
        .selectFrom('user_restrictions')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', subjectId)
        .execute(),
      ledger: await tx
        .selectFrom('consent_ledger')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', subjectId)
        .execute(),
      requests: await tx
        .selectFrom('data_subject_requests')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('subject_id', '=', subjectId)
        .execute(),
      uploads: await tx
        .selectFrom('attachments')
        .select(['id', 'status'])
        .where('tenant_id', '=', tenantId)
        .where('uploader_id', '=', subjectId)
        .where('status', 'in', ['complete', 'removed'])
        .execute(),
      audit: await tx
        .selectFrom('audit_log')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('seq', '<', completed.seq)
        .where((eb) => eb.or([eb('actor_id', '=', subjectId), eb('target_id', '=', subjectId)]))
        .execute(),
      auditNow: await tx
        .selectFrom('audit_log')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where((eb) => eb.or([eb('actor_id', '=', subjectId), eb('target_id', '=', subjectId)]))
        .execute(),
    };
  });

  // Every record of the subject, and only theirs.
  expect(ids(records['messages-sent'] ?? [])).toEqual(ids(db.sent));
  expect(ids(records.dialogs ?? [])).toEqual(ids(db.memberships, 'dialog_id'));
  expect(ids(records.receipts ?? [], 'dialogId')).toEqual(ids(db.memberships, 'dialog_id'));
  for (const receipt of records.receipts ?? []) {
    const member = db.memberships.find((row) => row.dialog_id === receipt.dialogId);
    expect(receipt).toMatchObject({ readSeq: member?.read_seq, deliveredSeq: member?.delivered_seq });
  }
  expect(ids(records['hidden-messages'] ?? [], 'messageId')).toEqual(ids(db.hidden, 'message_id'));
  const reactionKey = (row: Record<string, unknown>) =>
    `${String(row.messageId ?? row.message_id)}/${String(row.emoji)}`;
  expect((records.reactions ?? []).map(reactionKey).sort()).toEqual(
    db.reactions.map((row) => reactionKey(row)).sort(),
  );
  expect(ids(records.calls ?? [])).toEqual(ids(db.calls, 'call_id'));
  expect(ids(records.sessions ?? [])).toEqual(ids(db.sessions));
  expect(ids(records['consent-ledger'] ?? [])).toEqual(ids(db.ledger));
  const consentKey = (row: Record<string, unknown>) =>
    `${String(row.purposeKey ?? row.purpose_key)}/${String(row.version)}/${String(Boolean(row.granted))}`;
  expect((records['consent-states'] ?? []).map(consentKey).sort()).toEqual(
    db.consentStates.map((row) => consentKey(row)).sort(),
  );
  expect(documents.get('settings.json')).toEqual({ presenceVisibility: db.account.presence_visibility });
  expect(documents.get('profile.json')).toMatchObject({ avatarUrl: db.account.avatar_url });
  expect(ids(records.requests ?? [])).toEqual(ids(db.requests));
  expect(ids(records.restrictions ?? [])).toEqual(ids(db.restrictions));
  expect(ids(records.attachments ?? [])).toEqual(ids(db.uploads));
  const auditIds = ids(records.audit ?? []);
  for (const id of ids(db.audit)) expect(auditIds).toContain(id);
  for (const id of auditIds) expect(ids(db.auditNow)).toContain(id);

  // The subject's own messages with their text (none once deleted for everyone).
  const written = new Map(world.messages.map((message) => [message.id, message.body]));
  for (const record of records['messages-sent'] ?? []) {
    const row = db.sent.find((entry) => entry.id === record.id);
    expect(record.body).toBe(row?.deleted_at === null ? written.get(String(record.id)) : null);
  }

  // Other people's messages as the policy says.
  const received = records['messages-received'] ?? [];
  if (policy === 'none') expect(received).toEqual([]);
  else {
    expect(ids(received)).toEqual(ids(db.received));
    const pseudonyms = new Map<string, string>();
    for (const record of received) {
      const row = db.received.find((entry) => entry.id === record.id);
      expect(record.body).toBe(written.get(String(record.id)));
      if (policy === 'full') expect(record.sender).toBe(row?.sender_id);
      else {
        expect(record.sender).toMatch(/^anon_[0-9a-f]{16}$/);
        // One person, one pseudonym throughout; two people, two.
        const sender = String(row?.sender_id);
        expect(pseudonyms.get(sender) ?? record.sender).toBe(record.sender);
        pseudonyms.set(sender, String(record.sender));
      }
    }
    expect(new Set(pseudonyms.values()).size).toBe(pseudonyms.size);
  }

  // The subject's uploads byte for byte, nobody else's.
  const complete = new Set(db.uploads.filter((row) => row.status === 'complete').map((row) => row.id));
  const fileContents = [...files].filter(([path]) => path.startsWith(`${root}files/`));
  expect(fileContents).toHaveLength(complete.size);
  for (const upload of world.uploads) {
    const stored = fileContents.find(([path]) => path.startsWith(`${root}files/${upload.id}/`));
    if (upload.uploaderId === subjectId && complete.has(upload.id))
      expect(stored?.[1].equals(upload.content)).toBe(true);
    else expect(stored).toBeUndefined();
  }

  // Nothing of people the subject shares nothing with, nor of another tenant, anywhere in it.
  const text = [...files].map(([path, content]) => `${path}\n${content.toString('latin1')}`).join('\n');
  const foreign = [
    world.stranger.userId,
    ...world.stranger.bodies,
    world.elsewhere.tenantId,
    ...world.elsewhere.userIds,
    ...world.elsewhere.bodies,
  ];
  for (const value of foreign) expect(text.includes(value), value).toBe(false);
  for (const content of [world.stranger.upload, world.elsewhere.upload])
    expect(fileContents.some(([, bytes]) => bytes.includes(content))).toBe(false);
  if (policy !== 'full') {
    // Other people's ids appear nowhere in the messages: only pseudonyms.
    const messagesText = JSON.stringify([
      ...(records['messages-received'] ?? []),
      ...(records['messages-sent'] ?? []),
    ]);
    for (const person of world.people.slice(1)) expect(messagesText.includes(person)).toBe(false);
  }
}
