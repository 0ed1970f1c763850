// Alice and Bob sign in and exchange a realtime message, with @parley/client installed from npm.
// Run: PARLEY_URL=https://localhost:8443 PARLEY_TENANT_ID=… ALICE=… ALICE_PASSWORD=… BOB=… BOB_PASSWORD=… node chat.js
import process from 'node:process';
import { ParleyClient } from '@parley/client';
import WebSocket from 'ws'; // Node 20 has no global WebSocket; browsers (and Node 22+) do

const env = process.env;

async function signIn(username, password) {
  const client = new ParleyClient({ baseUrl: env.PARLEY_URL, realtime: { WebSocket } });
  await client.auth.signIn({ tenantId: env.PARLEY_TENANT_ID, username, password, scope: 'profile chat' });
  client.realtime.connect();
  await client.realtime.whenReady();
  return client;
}

/** Resolves with the next message another member sends to the dialog. */
function nextMessage(client, dialogId) {
  return new Promise((resolve) => {
    const stop = client.realtime.on('message.new', (frame) => {
      if (frame.dialogId !== dialogId || frame.message.senderId === client.realtime.session?.userId) return;
      stop();
      resolve(frame.message);
    });
  });
}

const alice = await signIn(env.ALICE, env.ALICE_PASSWORD);
const bob = await signIn(env.BOB, env.BOB_PASSWORD);
const bobId = bob.realtime.session.userId;
const dialog = await alice.dialogs.create({ type: 'group', name: 'Node check', memberIds: [bobId] });

const toBob = nextMessage(bob, dialog.id);
await alice.realtime.send(dialog.id, 'Hello Bob, from Node');
const received = await toBob;

const toAlice = nextMessage(alice, dialog.id);
await bob.realtime.send(dialog.id, `Got "${received.body}"`);
const reply = await toAlice;

process.stdout.write(`${JSON.stringify({ received: received.body, reply: reply.body })}\n`);
alice.realtime.close();
bob.realtime.close();
