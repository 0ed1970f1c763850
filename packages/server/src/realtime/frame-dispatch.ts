import type { ClientFrame, ErrorCode, Permission, ServerFrame } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import { databaseUnavailableAnswer, DatabaseUnavailableError } from '../storage/database-unavailable.ts';
import type { Principal } from '../identity/sessions/session-service.ts';
import type { RealtimeServices } from './realtime-services.ts';

/** What a frame handler may do to its connection. */
export interface FrameContext {
  services: RealtimeServices;
  /** This connection: the device calls ring and signal to. */
  deviceId: string;
  epoch: string;
  send: (frame: ServerFrame) => void;
  /** Replays the dialog's stream above `seq` (resume). */
  resumeFrom: (dialogId: string, seq: number) => Promise<void>;
  followPresence: (userIds: readonly string[]) => Promise<void>;
}

type Handled = Exclude<ClientFrame['type'], 'auth' | 'ping' | 'resume' | 'presence.subscribe'>;

/** The permission each state-changing frame needs, like the REST route doing the same. */
const framePermissions: Record<Handled, Permission> = {
  'message.send': 'messages.send',
  'message.edit': 'messages.send',
  'message.delete': 'messages.send',
  reaction: 'messages.send',
  read: 'dialogs.read',
  delivered: 'dialogs.read',
  typing: 'messages.send',
  'call.start': 'calls.make',
  'call.accept': 'calls.make',
  'call.reject': 'calls.make',
  'call.hangup': 'calls.make',
  'call.signal': 'calls.make',
};

const callFrames = new Set<string>([
  'call.start',
  'call.accept',
  'call.reject',
  'call.hangup',
  'call.signal',
]);

/** Handles one valid frame of an authenticated socket; errors become error frames carrying the frame's id. */
export async function dispatchFrame(context: FrameContext, principal: Principal, frame: ClientFrame) {
  const { send } = context;
  switch (frame.type) {
    case 'auth':
      send({
        type: 'error',
        code: 'already_authenticated',
        message: 'This socket is already authenticated.',
      });
      return;
    case 'ping':
      send({ type: 'pong' });
      return;
    case 'resume':
      for (const [dialogId, position] of Object.entries(frame.positions)) {
        if (position.epoch !== context.epoch) send({ type: 'resync', dialogId, reason: 'epoch_changed' });
        else await context.resumeFrom(dialogId, position.seq);
      }
      return;
    case 'presence.subscribe':
      await context.followPresence(frame.userIds);
      return;
    case 'message.send':
    case 'message.edit':
    case 'message.delete':
    case 'reaction':
    case 'read':
    case 'delivered':
    case 'typing':
    case 'call.start':
    case 'call.accept':
    case 'call.reject':
    case 'call.hangup':
    case 'call.signal':
      await handleChange(context, principal, frame);
      return;
  }
}

/** Frames that change state, each checked against the permission its REST twin needs. */
async function handleChange(
  context: FrameContext,
  principal: Principal,
  frame: Extract<ClientFrame, { type: Handled }>,
): Promise<void> {
  const { services, send } = context;
  const userId = principal.userId ?? '';
  const tenantId = principal.tenantId;
  const id = 'id' in frame ? frame.id : undefined;
  try {
    if (!principal.permissions.has(framePermissions[frame.type])) throw new AppError('forbidden');
    if (callFrames.has(frame.type) && !principal.scopes.has('calls'))
      throw new AppError('insufficient_scope');
    // A closed tenant is read-only: sends, edits, reactions, receipts, typing and calls are refused.
    await services.tenantClosures?.assertWritable(tenantId);
    const actor = { tenantId, userId, deviceId: context.deviceId };
    switch (frame.type) {
      case 'message.send': {
        const { message } = await services.messages.send(tenantId, userId, frame.dialogId, {
          clientId: frame.id,
          body: frame.body,
          mentions: frame.mentions ?? [],
          attachments: frame.attachments ?? [],
          ...(frame.replyTo === undefined ? {} : { replyTo: frame.replyTo }),
          ...(frame.properties === undefined ? {} : { properties: frame.properties }),
        });
        // Acked only now: the message is committed.
        send({
          type: 'ack',
          id: frame.id,
          dialogId: frame.dialogId,
          messageId: message.id,
          seq: message.seq,
        });
        return;
      }
      case 'message.edit':
      case 'message.delete':
      case 'reaction': {
        const result = await changeMessage(services, tenantId, userId, frame);
        send({
          type: 'ack',
          id: frame.id,
          dialogId: frame.dialogId,
          messageId: frame.messageId,
          seq: result.seq,
        });
        return;
      }
      case 'read':
        await services.receipts.markRead(tenantId, userId, frame.dialogId, frame.seq);
        return;
      case 'delivered':
        await services.receipts.markDelivered(tenantId, userId, frame.dialogId, frame.seq);
        return;
      case 'typing':
        await services.typing.signal(tenantId, userId, frame.dialogId, frame.state);
        return;
      case 'call.start': {
        const { callId } = await services.calls.start(actor, frame.to, frame.media);
        send({ type: 'call.created', id: frame.id, callId });
        return;
      }
      case 'call.accept':
        await services.calls.accept(actor, frame.callId);
        send({ type: 'call.ack', id: frame.id, callId: frame.callId });
        return;
      case 'call.reject':
        await services.calls.reject(actor, frame.callId);
        send({ type: 'call.ack', id: frame.id, callId: frame.callId });
        return;
      case 'call.hangup':
        await services.calls.hangup(actor, frame.callId);
        send({ type: 'call.ack', id: frame.id, callId: frame.callId });
        return;
      case 'call.signal':
        await services.calls.signal(actor, frame.callId, frame.toDeviceId, frame.signal);
        return;
    }
  } catch (error) {
    sendError(context, error, id);
  }
}

/** An edit, a deletion or a reaction, through the same service the REST routes use. */
function changeMessage(
  services: RealtimeServices,
  tenantId: string,
  userId: string,
  frame: Extract<ClientFrame, { type: 'message.edit' | 'message.delete' | 'reaction' }>,
) {
  const { messageChanges } = services;
  switch (frame.type) {
    case 'message.edit':
      return messageChanges.edit(tenantId, userId, frame.dialogId, frame.messageId, frame.body);
    case 'message.delete':
      return messageChanges.remove(tenantId, userId, frame.dialogId, frame.messageId, frame.forEveryone);
    case 'reaction':
      return messageChanges.react(tenantId, userId, frame.dialogId, frame.messageId, frame.emoji, frame.op);
  }
}

/**
 * Coded errors travel as they are; no database connection in time is `service_unavailable` (the client may
 * retry: a send with the same client id is idempotent); anything else is a generic internal error. All but
 * coded errors are thrown on, for the caller to log.
 */
export function sendError(context: Pick<FrameContext, 'send'>, error: unknown, id?: string): void {
  context.send({ type: 'error', ...(id === undefined ? {} : { id }), ...publicError(error) });
  if (!(error instanceof AppError)) throw error;
}

function publicError(error: unknown): { code: ErrorCode; message: string } {
  if (error instanceof AppError) return { code: error.code, message: error.message };
  if (error instanceof DatabaseUnavailableError)
    return { code: 'service_unavailable', message: databaseUnavailableAnswer.message };
  return { code: 'internal_error', message: 'An internal error occurred.' };
}
