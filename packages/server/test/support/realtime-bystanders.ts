import type { DialectName } from '../../src/storage/dialects/dialect-adapter.ts';
import { json, newMember, newTenantOwner, type SignedIn } from './identity-fixtures.ts';
import { openSocket } from './realtime-socket.ts';
import { startTestServer, type TestServer } from './start-server.ts';

/**
 * A server with two signed-in users in one dialog, each holding a socket that no attack touches: after an
 * attack, `assertServed` proves the server still commits a send and delivers it to the other socket. It also
 * records every uncaught exception in this process (the server runs in-process), because an uncaught
 * exception is what ends a production server.
 */
export interface Bystanders {
  server: TestServer;
  owner: SignedIn;
  member: { userId: string; token: string };
  /** Uncaught exceptions seen since the fixture started; a real server would have died at the first. */
  readonly uncaught: unknown[];
  assertServed(): Promise<void>;
  close(): Promise<void>;
}

export async function startBystanders(
  dialect: DialectName,
  env: Record<string, string>,
): Promise<Bystanders> {
  const uncaught: unknown[] = [];
  const record = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', record);
  const server = await startTestServer({ dialect, env });
  const owner = await newTenantOwner(server, 'Frame Clinic');
  const member = await newMember(server, owner, 'bystander@frames.example');
  const dialogId = (
    await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Bystanders', memberIds: [member.userId] }, owner.accessToken),
    )
  ).json<{ id: string }>().id;
  const sender = await openSocket(server, owner.accessToken);
  const receiver = await openSocket(server, member.token);
  let sent = 0;
  return {
    server,
    owner,
    member,
    uncaught,
    async assertServed() {
      sent += 1;
      const id = `bystander-${String(sent)}`;
      sender.send({ type: 'message.send', id, dialogId, body: `still here ${String(sent)}` });
      const ack = await sender.next((frame) => frame.id === id);
      if (ack.type !== 'ack') throw new Error(`send refused: ${JSON.stringify(ack)}`);
      await receiver.next((frame) => frame.type === 'message.new' && frame.seq === ack.seq);
    },
    async close() {
      sender.ws.close();
      receiver.ws.close();
      await server.close();
      process.off('uncaughtException', record);
    },
  };
}
