/* global document, location, FormData */
import { ParleyClient } from '@parley/client';

// The page's own origin: Vite's proxy in development, the reverse proxy in front of Parley in production.
const client = new ParleyClient({ baseUrl: location.origin });
const status = document.querySelector('#status');
const messages = document.querySelector('#messages');
const reply = document.querySelector('#reply');
let lastDialogId;

client.realtime.on('connection', ({ state }) => (status.textContent = state));
client.realtime.on('message.new', ({ dialogId, message }) => {
  lastDialogId = dialogId;
  const item = document.createElement('li');
  item.textContent = message.body; // text, never HTML
  messages.append(item);
  reply.hidden = false;
});

document.querySelector('#sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  await client.auth.signIn({
    tenantId: form.get('tenantId'),
    username: form.get('username'),
    password: form.get('password'),
    scope: 'profile chat',
  });
  event.target.hidden = true;
  client.realtime.connect();
});

reply.addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = reply.elements.text;
  await client.realtime.send(lastDialogId, text.value);
  text.value = '';
});
