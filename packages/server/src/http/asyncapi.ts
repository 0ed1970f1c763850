import {
  attachmentSummary,
  type ClientFrame,
  clientFrameTypes,
  closeCodeDescriptions,
  closeCodes,
  messageBody,
  reactionSummary,
  type ServerFrame,
  serverFrameSchemas,
} from '@parley/protocol';
import { z, type ZodObject, type ZodType } from 'zod';
import { REALTIME_PATH } from '../realtime/gateway.ts';
import { parleyVersion } from '../version.ts';

/**
 * The realtime protocol as an AsyncAPI 3.0 document, generated from the same zod frame schemas the gateway
 * validates with (client frames) and the server's frames are checked against at compile time (server frames):
 * the WSS channel, every frame as a message, what answers what, how a socket signs in, and the close codes.
 * Served at `/asyncapi.json`.
 */

type Side = 'client' | 'server';
type Json = Record<string, unknown>;

/** The frames a client frame is answered with (besides the close codes); the rest are answered by nothing. */
const replies: Partial<Record<ClientFrame['type'], ServerFrame['type'][]>> = {
  auth: ['ready'],
  'message.send': ['ack', 'error'],
  'message.edit': ['ack', 'error'],
  'message.delete': ['ack', 'error'],
  reaction: ['ack', 'error'],
  resume: ['resync', 'error'],
  ping: ['pong'],
  'call.start': ['call.created', 'error'],
  'call.accept': ['call.ack', 'error'],
  'call.reject': ['call.ack', 'error'],
  'call.hangup': ['call.ack', 'error'],
};

/** Schemas the frames share with the REST API, named as in `/openapi.json`. */
const shared: Record<string, ZodType> = {
  Message: messageBody,
  AttachmentSummary: attachmentSummary,
  ReactionSummary: reactionSummary,
};

const pascal = (type: string) =>
  type
    .split('.')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
const messageKey = (side: Side, type: string) => `${side}${pascal(type)}`;
const messageRef = (side: Side, type: string) => ({
  $ref: `#/channels/realtime/messages/${messageKey(side, type)}`,
});

interface Frame {
  side: Side;
  type: string;
  schema: ZodObject;
}

function framesOf(side: Side, schemas: readonly ZodObject[]): Frame[] {
  return schemas.map((schema) => ({ side, type: (schema.shape.type as z.ZodLiteral<string>).value, schema }));
}

/** JSON Schema (draft 7, AsyncAPI's default format) of each frame, and of the schemas they share. */
function frameSchemas(frames: readonly Frame[], io: 'input' | 'output'): Record<string, Json> {
  const registry = z.registry<{ id: string; description?: string }>();
  for (const [id, schema] of Object.entries(shared))
    registry.add(schema, { id, description: schema.description });
  for (const frame of frames) {
    registry.add(frame.schema, {
      id: pascal(`${frame.side}.${frame.type}`),
      description: frame.schema.description,
    });
  }
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-7',
    io,
    uri: (id) => `#/components/schemas/${id}`,
    unrepresentable: 'any',
  });
  if ('__shared' in schemas)
    throw new Error('A frame uses a named schema the AsyncAPI document does not list');
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => [
      id,
      Object.fromEntries(Object.entries(schema).filter(([key]) => key !== '$schema' && key !== '$id')),
    ]),
  );
}

const closeCodeTable = Object.entries(closeCodes)
  .map(([name, code]) => `- ${code} (${name}): ${closeCodeDescriptions[name as keyof typeof closeCodes]}`)
  .join('\n');

const channelDescription = `One WebSocket per device. Text frames of JSON with a \`type\`.

Signing in: the first frame must be \`auth\` with an OAuth 2.0 access token from POST /oauth/token that carries the
\`chat\` scope (tokens never travel in the URL or a header); it is answered by \`ready\`, or the socket is closed with
4001 (invalid token) or 4003 (no \`chat\` scope), and without it in time with 4008. Resume by sending the positions
seen in \`auth\` (or \`resume\`): every change after them is replayed before live delivery.

Close codes:
${closeCodeTable}`;

function messagesOf(frames: readonly Frame[]): Record<string, Json> {
  return Object.fromEntries(
    frames.map((frame) => [
      messageKey(frame.side, frame.type),
      {
        name: frame.type,
        title: `${frame.side === 'client' ? 'Client' : 'Server'} frame \`${frame.type}\``,
        ...(frame.schema.description ? { summary: frame.schema.description } : {}),
        contentType: 'application/json',
        payload: { $ref: `#/components/schemas/${pascal(`${frame.side}.${frame.type}`)}` },
      },
    ]),
  );
}

function operationsOf(frames: readonly Frame[]): Record<string, Json> {
  const channel = { $ref: '#/channels/realtime' };
  return Object.fromEntries(
    frames.map((frame) => {
      const answers = frame.side === 'client' ? replies[frame.type as ClientFrame['type']] : undefined;
      return [
        `${frame.side === 'client' ? 'receive' : 'send'}${pascal(frame.type)}`,
        {
          action: frame.side === 'client' ? 'receive' : 'send',
          channel,
          summary:
            frame.side === 'client'
              ? `A client sends \`${frame.type}\`.`
              : `The server sends \`${frame.type}\`.`,
          messages: [messageRef(frame.side, frame.type)],
          ...(answers
            ? { reply: { channel, messages: answers.map((type) => messageRef('server', type)) } }
            : {}),
        },
      ];
    }),
  );
}

/** Builds the document; pure and cheap, but callers cache it. */
export function asyncApiDocument(): Json {
  const clientFrames = framesOf('client', clientFrameTypes.options);
  const serverFrames = framesOf('server', serverFrameSchemas);
  const frames = [...clientFrames, ...serverFrames];
  const schemas = { ...frameSchemas(clientFrames, 'input'), ...frameSchemas(serverFrames, 'output') };
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Parley realtime',
      version: parleyVersion,
      description:
        'The realtime protocol of the Parley API: sends, edits, receipts, typing, presence and call signaling over one WebSocket. The REST API is described by the OpenAPI document at /openapi.json.',
    },
    defaultContentType: 'application/json',
    servers: {
      parley: {
        host: '{host}',
        protocol: 'wss',
        description: 'The Parley server itself: WSS on the same port as the HTTPS API.',
        variables: {
          host: { default: 'localhost:8443', description: 'Host and port of the Parley server.' },
        },
      },
    },
    channels: {
      realtime: {
        address: REALTIME_PATH,
        title: 'Realtime',
        description: channelDescription,
        messages: messagesOf(frames),
        bindings: { ws: { method: 'GET', bindingVersion: '0.1.0' } },
      },
    },
    operations: operationsOf(frames),
    components: { schemas },
  };
}
