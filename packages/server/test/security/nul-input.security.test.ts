import { once } from 'node:events';
import { findUnstorableInput, maxInputDepth } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { describeEachDialect } from '../support/dialects.ts';
import { json, newMember, newTenantOwner, postForm, type SignedIn } from '../support/identity-fixtures.ts';
import { Socket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Attack: send text no column can hold — a NUL character (U+0000, which PostgreSQL's text type refuses) or a
 * lone UTF-16 surrogate (not Unicode at all; UTF-8 encoders silently replace it, so what is stored is not what
 * was sent) — in a client id, a name, a message body, a custom-data key, a query parameter, a path segment or
 * an OAuth form field, over REST and over realtime frames. On PostgreSQL this answered 500 (the database
 * error surfaced). Every such request must be refused with 400 `validation_failed` (or `invalid_frame` on the
 * socket, the realtime twin) before it reaches a service, on both dialects, and nothing may be stored. (A lone
 * surrogate arrives only as a JSON `\ud800` escape: percent-encoding is UTF-8, so the URL cases use NUL.)
 */
const nul = 'a\u0000b';
const loneSurrogate = 'a\ud800b';

describeEachDialect('text a column cannot hold is refused as invalid input', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let member: { userId: string; token: string };
  let dialogId: string;
  let messageId: string;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Nul Clinic');
    member = await newMember(server, owner, 'nina@nul.example');
    const dialog = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Ward', memberIds: [member.userId] }, owner.accessToken),
    );
    expect(dialog.status, dialog.text).toBe(201);
    dialogId = dialog.json<{ id: string }>().id;
    const sent = await server.request(
      `/v1/dialogs/${dialogId}/messages`,
      json({ clientId: 'first', body: 'hello' }, owner.accessToken),
    );
    expect(sent.status, sent.text).toBe(201);
    messageId = sent.json<{ id: string }>().id;
  });

  afterAll(async () => {
    await server.close();
  });

  const expectValidationFailed = (response: { status: number; text: string }, what: string) => {
    expect(response.status, `${what}: ${response.text}`).toBe(400);
    expect(JSON.parse(response.text), what).toMatchObject({
      error: { code: 'validation_failed', requestId: expect.any(String) as string },
    });
  };

  for (const [kind, bad] of [
    ['NUL', nul],
    ['lone surrogate', loneSurrogate],
  ] as const) {
    it(`refuses a ${kind} in JSON body fields (client id, body, names, custom-data keys and values)`, async () => {
      const cases: [string, string, unknown, string?][] = [
        ['message client id', `/v1/dialogs/${dialogId}/messages`, { clientId: bad, body: 'x' }],
        ['message body', `/v1/dialogs/${dialogId}/messages`, { clientId: `c-${kind}`, body: bad }],
        ['dialog name', '/v1/dialogs', { type: 'group', name: bad }],
        ['dialog description', '/v1/dialogs', { type: 'group', name: 'n', description: bad }],
        ['custom-data key', '/v1/dialogs', { type: 'group', name: 'n', customData: { [bad]: 1 } }],
        ['custom-data value', '/v1/dialogs', { type: 'group', name: 'n', customData: { k: [{ v: bad }] } }],
        ['profile name', '/v1/me', { displayName: bad }, 'PATCH'],
        ['message edit', `/v1/dialogs/${dialogId}/messages/${messageId}`, { body: bad }, 'PATCH'],
      ];
      for (const [what, path, body, method] of cases) {
        expectValidationFailed(await server.request(path, json(body, owner.accessToken, method)), what);
      }
      // As a plain member too, and on a public route without any token.
      expectValidationFailed(
        await server.request(
          `/v1/dialogs/${dialogId}/messages`,
          json({ clientId: bad, body: 'x' }, member.token),
        ),
        'member send',
      );
      expectValidationFailed(
        await server.request(
          `/v1/tenants/${owner.tenantId}/signup`,
          json({ displayName: bad, email: 'x@nul.example', password: 'long enough password 1' }),
        ),
        'anonymous signup',
      );
    });

    it(`refuses a ${kind} in realtime frames with invalid_frame and stores nothing`, async () => {
      const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
      await once(ws, 'open');
      const socket = new Socket(ws);
      socket.send({ type: 'auth', token: owner.accessToken });
      await socket.next((frame) => frame.type === 'ready');
      const frames = [
        { type: 'message.send', id: `r-${bad}`, dialogId, body: 'x' },
        { type: 'message.send', id: `r-body-${kind}`, dialogId, body: bad },
        { type: 'message.send', id: `r-props-${kind}`, dialogId, body: 'x', properties: { [bad]: true } },
        { type: 'message.edit', id: `r-edit-${kind}`, dialogId, messageId, body: bad },
      ];
      for (const frame of frames) {
        const answered = socket.frames.filter((seen) => seen.type === 'error' || seen.type === 'ack').length;
        socket.send(frame);
        const answer = await socket.next(
          (seen) =>
            (seen.type === 'error' || seen.type === 'ack') &&
            socket.frames.filter((other) => other.type === 'error' || other.type === 'ack').indexOf(seen) ===
              answered,
        );
        expect(answer, JSON.stringify(frame)).toMatchObject({ type: 'error', code: 'invalid_frame' });
      }
      ws.close();
      await once(ws, 'close');
      const history = await server.request(`/v1/dialogs/${dialogId}/messages`, {
        headers: { authorization: `Bearer ${owner.accessToken}` },
      });
      expect(history.status, history.text).toBe(200);
      expect(history.json<{ messages: { body: string }[] }>().messages.map((entry) => entry.body)).toEqual([
        'hello',
      ]);
    });
  }

  it('refuses a NUL in OAuth form fields with the RFC 6749 error', async () => {
    const response = await postForm(server, '/oauth/token', {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: `x${nul}@nul.example`,
      password: 'whatever it is',
    });
    expect(response.status, response.text).toBe(400);
    expect(response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses JSON nested deeper than the input limit instead of overflowing a size check', async () => {
    // 100,000 levels fit in a 1 MiB body; custom data's 8 KiB check serialises it recursively.
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const response = await server.request('/v1/dialogs', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.accessToken}` },
      body: `{"type":"group","name":"n","customData":{"k":${deep}}}`,
    });
    expectValidationFailed(response, 'deep custom data');
  });

  it('refuses a JSON number too large for a double (1e999) instead of storing it as null', async () => {
    // JSON.parse turns 1e999 into Infinity, which JSON.stringify writes as null: free-form custom data would
    // silently change. Schemas with number fields refuse Infinity themselves; free-form data has no schema.
    const response = await server.request('/v1/dialogs', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.accessToken}` },
      body: '{"type":"group","name":"n","customData":{"k":[1e999]}}',
    });
    expectValidationFailed(response, 'an infinite number in custom data');
  });

  it('refuses a NUL in query parameters and path segments', async () => {
    const cases: [string, string, string?][] = [
      ['search query', '/v1/search/messages?q=a%00b'],
      ['dialog list cursor', '/v1/dialogs?cursor=a%00b'],
      ['audit filter', '/v1/audit?action=a%00b'],
      ['call history cursor', '/v1/calls?cursor=a%00b'],
      ['dialog id', '/v1/dialogs/a%00b'],
      ['session id', '/v1/me/sessions/a%00b', 'DELETE'],
      ['presence user id', '/v1/users/a%00b/presence'],
      ['mfa reset user id', '/v1/users/a%00b/mfa', 'DELETE'],
      ['block user id', '/v1/me/blocks/a%00b', 'PUT'],
      ['unblock user id', '/v1/me/blocks/a%00b', 'DELETE'],
    ];
    for (const [what, path, method] of cases) {
      const response = await server.request(path, {
        method: method ?? 'GET',
        headers: { authorization: `Bearer ${owner.accessToken}` },
      });
      expectValidationFailed(response, what);
    }
    expectValidationFailed(
      await server.request('/v1/tenants/a%00b/password-reset', json({ email: 'x@nul.example' })),
      'anonymous tenant id',
    );
  });
});

describe('the storable-input check', () => {
  it('keeps well-formed text (surrogate pairs included) and finds NUL, lone halves and over-deep nesting', () => {
    expect(findUnstorableInput({ name: 'Zoë 😀', list: ['a', { b: 'c' }], n: 1, none: null })).toBeNull();
    expect(findUnstorableInput({ a: [{ b: 'x\u0000' }] })).toEqual({
      path: ['a', 0, 'b'],
      problem: 'must not contain a NUL character',
    });
    for (const lone of ['\ud83d', '\ude00', 'a\ude00\ud83d', '\ud83d\ud83d\ude00']) {
      expect(findUnstorableInput(lone), JSON.stringify(lone)).toMatchObject({
        problem: 'must be well-formed Unicode',
      });
    }
    expect(findUnstorableInput({ ['k\u0000']: 1 })).toMatchObject({ path: [] });
    const nest = (depth: number): unknown => (depth === 0 ? 'leaf' : [nest(depth - 1)]);
    expect(findUnstorableInput(nest(maxInputDepth))).toBeNull();
    expect(findUnstorableInput(nest(maxInputDepth + 1))).toMatchObject({
      problem: expect.stringContaining('deeper'),
    });
  });
});
