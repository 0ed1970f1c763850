import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { createDialogBody, sendMessageBody } from '@parley/protocol';
import fc from 'fast-check';
import type { TestServer } from '../../support/start-server.ts';

/**
 * A random world for export tests: a tenant with the export's subject and a few other people, dialogs among
 * them (some without the subject), messages, reactions, "delete for me" and for everyone, receipts, blocks,
 * leaving and clearing dialogs, uploads shared in messages, a call; plus a tenant member who shares nothing
 * with the subject and a second tenant. Built through the real services, in the order drawn.
 */

export const emojis = ['👍', '🎉', '😂'] as const;

export interface WorldPlan {
  /** People in the subject's tenant besides the subject (indices 1…n; 0 is the subject). */
  others: number;
  dialogs: { type: 'private' | 'group'; members: number[]; hideHistory: boolean }[];
  /** Actions in order; indices are taken modulo what exists when the action runs. */
  actions: WorldAction[];
}

export type WorldAction =
  | { kind: 'send'; dialog: number; sender: number; attach: boolean }
  | { kind: 'react'; message: number; user: number; emoji: number }
  | { kind: 'hide'; message: number; user: number }
  | { kind: 'delete'; message: number }
  | { kind: 'read'; dialog: number; user: number }
  | { kind: 'block'; user: number; blocked: number }
  | { kind: 'leave'; dialog: number; user: number }
  | { kind: 'clear'; dialog: number; user: number }
  | { kind: 'upload'; user: number }
  | { kind: 'call'; dialog: number };

const index = fc.nat({ max: 50 });

/** Mostly dialogs with the subject in them (their data), some without (what must stay out). */
const dialogSpec = (others: number) =>
  fc
    .record({
      type: fc.constantFrom('private' as const, 'group' as const),
      withSubject: fc.constantFrom(true, true, true, false),
      others: fc.uniqueArray(fc.integer({ min: 1, max: others }), { minLength: 1, maxLength: others }),
      hideHistory: fc.boolean(),
    })
    .map(({ type, withSubject, others: members, hideHistory }) => ({
      type,
      members: withSubject
        ? [0, ...members]
        : members.length > 1
          ? members
          : [...members, members[0] === 1 ? 2 : 1],
      hideHistory,
    }));

export const worldPlan: fc.Arbitrary<WorldPlan> = fc.integer({ min: 2, max: 4 }).chain((others) =>
  fc.record({
    others: fc.constant(others),
    dialogs: fc.array(dialogSpec(others), { minLength: 2, maxLength: 4 }),
    actions: fc.array(
      fc.oneof(
        {
          weight: 10,
          arbitrary: fc.record({
            kind: fc.constant('send' as const),
            dialog: index,
            sender: index,
            attach: fc.boolean(),
          }),
        },
        {
          weight: 3,
          arbitrary: fc.record({
            kind: fc.constant('react' as const),
            message: index,
            user: index,
            emoji: fc.nat({ max: 2 }),
          }),
        },
        {
          weight: 3,
          arbitrary: fc.record({ kind: fc.constant('hide' as const), message: index, user: index }),
        },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), message: index }) },
        {
          weight: 2,
          arbitrary: fc.record({ kind: fc.constant('read' as const), dialog: index, user: index }),
        },
        {
          weight: 1,
          arbitrary: fc.record({ kind: fc.constant('block' as const), user: index, blocked: index }),
        },
        {
          weight: 1,
          arbitrary: fc.record({ kind: fc.constant('leave' as const), dialog: index, user: index }),
        },
        {
          weight: 1,
          arbitrary: fc.record({ kind: fc.constant('clear' as const), dialog: index, user: index }),
        },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('upload' as const), user: index }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('call' as const), dialog: index }) },
      ),
      { minLength: 20, maxLength: 60 },
    ),
  }),
);

/** What was built: ids, and everything the test wrote in the clear, to look for in the archive. */
export interface World {
  tenantId: string;
  subjectId: string;
  /** people[0] is the subject. */
  people: string[];
  dialogs: { id: string; members: number[] }[];
  messages: { id: string; dialogId: string; senderId: string; body: string }[];
  /** Uploads by uploader: id and content. */
  uploads: { id: string; uploaderId: string; name: string; content: Buffer }[];
  /** Someone in the subject's tenant who shares nothing with them, and what they wrote. */
  stranger: { userId: string; bodies: string[]; upload: Buffer };
  /** The other tenant's ids and bodies. */
  elsewhere: { tenantId: string; userIds: string[]; bodies: string[]; upload: Buffer };
}

/** A text nobody else could have written: found in the archive only if this message was exported. */
const marker = (label: string) => `${label}-${randomBytes(6).toString('hex')}`;

async function newPerson(server: TestServer, tenantId: string, label: string): Promise<string> {
  const user = await server.app.services.users.createUser(tenantId, {
    displayName: marker(label),
    email: `${marker(label)}@world.example`,
  });
  return user.id;
}

async function upload(server: TestServer, tenantId: string, userId: string, content: Buffer, name: string) {
  return server.app.services.attachments.upload(tenantId, userId, {
    name,
    declaredType: 'application/octet-stream',
    declaredLength: content.length,
    content: Readable.from([content]),
  });
}

/** A dialog with one message and an upload nobody but its own members can see. */
async function isolatedChat(server: TestServer, tenantId: string, a: string, b: string) {
  const { services } = server.app;
  const dialog = await services.dialogs.create(
    tenantId,
    a,
    createDialogBody.parse({ type: 'private', memberIds: [b] }),
  );
  const body = marker('secret');
  const content = randomBytes(300);
  const file = await upload(server, tenantId, a, content, `${marker('file')}.bin`);
  await services.messages.send(
    tenantId,
    a,
    dialog.id,
    sendMessageBody.parse({ clientId: marker('c'), body, attachments: [file.id] }),
  );
  return { body, content };
}

/**
 * Builds `plan` for `subjectId` (a user the caller made and signed in) in `tenantId`. Actions that the
 * service refuses in the state they meet (a send to a dialog the sender left, a reaction to a deleted
 * message) are skipped, as a client would see them refused.
 */
export async function buildWorld(
  server: TestServer,
  tenantId: string,
  subjectId: string,
  plan: WorldPlan,
): Promise<World> {
  const { services, tenants } = server.app;
  const people = [subjectId];
  for (let n = 0; n < plan.others; n += 1) people.push(await newPerson(server, tenantId, 'person'));
  const pick = <T>(list: readonly T[], at: number): T => list[at % list.length] as T;

  const dialogs: World['dialogs'] = [];
  for (const spec of plan.dialogs) {
    const [creator = 0, ...rest] = spec.members;
    const members = spec.type === 'private' ? rest.slice(0, 1) : rest;
    if (spec.type === 'private' && members.length === 0) continue;
    const created = await services.dialogs
      .create(
        tenantId,
        pick(people, creator),
        createDialogBody.parse({
          type: spec.type,
          memberIds: members.map((member) => pick(people, member)),
          ...(spec.type === 'group' ? { name: marker('group'), hideHistory: spec.hideHistory } : {}),
        }),
      )
      .catch(() => undefined); // a private pair drawn twice is one dialog
    if (created) dialogs.push({ id: created.id, members: [creator, ...members] });
  }

  const messages: World['messages'] = [];
  const uploads: World['uploads'] = [];
  const attempt = (work: () => Promise<unknown>) => work().catch(() => undefined);
  for (const action of plan.actions) {
    if (dialogs.length === 0) break;
    switch (action.kind) {
      case 'send': {
        const dialog = pick(dialogs, action.dialog);
        const senderId = pick(people, pick(dialog.members, action.sender));
        const body = marker('message');
        const own = uploads.filter((entry) => entry.uploaderId === senderId);
        const attachments = action.attach && own.length > 0 ? [pick(own, action.dialog).id] : [];
        await attempt(async () => {
          const sent = await services.messages.send(
            tenantId,
            senderId,
            dialog.id,
            sendMessageBody.parse({ clientId: marker('c'), body, attachments }),
          );
          messages.push({ id: sent.message.id, dialogId: dialog.id, senderId, body });
        });
        break;
      }
      case 'react':
      case 'hide':
      case 'delete': {
        if (messages.length === 0) break;
        const message = pick(messages, action.message);
        const dialog = dialogs.find((entry) => entry.id === message.dialogId);
        if (!dialog) break;
        const userId =
          action.kind === 'delete' ? message.senderId : pick(people, pick(dialog.members, action.user));
        await attempt(() =>
          action.kind === 'react'
            ? services.messageChanges.react(
                tenantId,
                userId,
                dialog.id,
                message.id,
                pick(emojis, action.emoji),
                'add',
              )
            : services.messageChanges.remove(
                tenantId,
                userId,
                dialog.id,
                message.id,
                action.kind === 'delete',
              ),
        );
        break;
      }
      case 'read': {
        const dialog = pick(dialogs, action.dialog);
        const seen = messages.filter((entry) => entry.dialogId === dialog.id).length;
        if (seen > 0)
          await attempt(() =>
            services.receipts.markRead(
              tenantId,
              pick(people, pick(dialog.members, action.user)),
              dialog.id,
              seen,
            ),
          );
        break;
      }
      case 'block': {
        const userId = pick(people, action.user);
        const blocked = pick(people, action.blocked);
        if (userId !== blocked) await attempt(() => services.blocks.block(tenantId, userId, blocked));
        break;
      }
      case 'leave':
      case 'clear': {
        const dialog = pick(dialogs, action.dialog);
        const userId = pick(people, pick(dialog.members, action.user));
        // The subject leaves or clears a third of the times drawn: enough to test, not so often that
        // they end up reading nothing.
        if (userId === subjectId && action.user % 3 !== 0) break;
        await attempt(() => services.dialogs.remove(tenantId, userId, dialog.id, action.kind));
        break;
      }
      case 'upload': {
        // Half the uploads are the subject's: their files must be in the archive, the others' must not.
        const userId = action.user % 2 === 0 ? subjectId : pick(people, action.user);
        const content = randomBytes(100 + (action.user % 3) * 70_000);
        const name = `${marker('upload')}.bin`;
        const stored = await upload(server, tenantId, userId, content, name);
        uploads.push({ id: stored.id, uploaderId: userId, name, content });
        break;
      }
      case 'call': {
        const dialog = pick(dialogs, action.dialog);
        const [a = 0, b = 1] = dialog.members;
        await attempt(async () => {
          const actor = { tenantId, userId: pick(people, a), deviceId: marker('device') };
          const { callId } = await services.calls.start(actor, { userId: pick(people, b) }, 'audio');
          await services.calls.hangup(actor, callId);
        });
        break;
      }
      default: {
        const never: never = action;
        throw new Error(`unknown action ${JSON.stringify(never)}`);
      }
    }
  }

  const strangerId = await newPerson(server, tenantId, 'stranger');
  const strangersFriend = await newPerson(server, tenantId, 'friend');
  const strangerChat = await isolatedChat(server, tenantId, strangerId, strangersFriend);

  const other = await tenants.createTenant(marker('Elsewhere'));
  const elsewhereA = await newPerson(server, other.tenantId, 'elsewhere');
  const elsewhereB = await newPerson(server, other.tenantId, 'elsewhere');
  const elsewhereChat = await isolatedChat(server, other.tenantId, elsewhereA, elsewhereB);

  return {
    tenantId,
    subjectId,
    people,
    dialogs,
    messages,
    uploads,
    stranger: { userId: strangerId, bodies: [strangerChat.body], upload: strangerChat.content },
    elsewhere: {
      tenantId: other.tenantId,
      userIds: [elsewhereA, elsewhereB],
      bodies: [elsewhereChat.body],
      upload: elsewhereChat.content,
    },
  };
}
