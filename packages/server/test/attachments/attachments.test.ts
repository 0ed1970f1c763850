/**
 * Attachments: upload, download, ranges, types, limits and who may read them.
 *
 * Attacks tried: uploading HTML or SVG (declared as an image) hoping the API origin serves it as markup
 * (stored XSS); a PNG declared as text to confuse clients; a file larger than the tenant allows, hoping it is
 * kept or takes the server down; downloading an attachment as someone who never saw the message, who left,
 * who joined a hidden-history dialog later, or from another tenant; sharing someone else's attachment by id;
 * editing the stored ciphertext hoping a download serves altered or truncated bytes as if they were whole.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { connect } from 'node:tls';
import { Agent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newTenantOwner, type SignedIn, newMember } from '../support/identity-fixtures.ts';
import { startTestServer, type TestResponse, type TestServer } from '../support/start-server.ts';

interface Attachment {
  id: string;
  name: string;
  contentType: string;
  size: number;
}

/** A complete 1×1 PNG. */
const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);
const CHUNK = 64 * 1024;

describeEachDialect('attachments', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let bob: { userId: string; token: string };
  let carol: { userId: string; token: string };

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Files Clinic');
    const member = (name: string) => newMember(server, owner, `${name}@files.example`);
    bob = await member('bob');
    carol = await member('carol');
  });

  afterAll(async () => {
    await server.close();
  });

  const upload = (token: string, name: string, body: Buffer, contentType = 'application/octet-stream') =>
    server.request(`/v1/attachments?name=${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
      body,
    });
  const uploaded = async (token: string, name: string, body: Buffer, contentType?: string) => {
    const response = await upload(token, name, body, contentType);
    expect(response.status, response.text).toBe(201);
    return response.json<Attachment>();
  };
  /** The body as bytes (TestServer reads text, which would mangle binary content). */
  const download = async (token: string, id: string, headers: Record<string, string> = {}) => {
    const response = await fetchBytes(server, `/v1/attachments/${id}`, {
      authorization: `Bearer ${token}`,
      ...headers,
    });
    return response;
  };
  const dialogWith = async (token: string, body: Record<string, unknown>) => {
    const created = await server.request('/v1/dialogs', json(body, token));
    expect(created.status, created.text).toBe(201);
    return created.json<{ id: string }>().id;
  };
  const share = (token: string, dialogId: string, attachments: string[], clientId: string) =>
    server.request(
      `/v1/dialogs/${dialogId}/messages`,
      json({ clientId, body: 'see attached', attachments }, token),
    );

  it('round-trips an upload of several chunks and answers 201 with id, name, sniffed type and size', async () => {
    const content = randomBytes(3 * CHUNK + 1234);
    const attachment = await uploaded(owner.accessToken, 'scan 2024 – ré.bin', content);
    expect(attachment).toMatchObject({
      name: 'scan 2024 – ré.bin',
      contentType: 'application/octet-stream',
      size: content.length,
    });
    const response = await download(owner.accessToken, attachment.id);
    expect(response.status).toBe(200);
    expect(response.body.equals(content)).toBe(true);
    expect(response.headers).toMatchObject({
      'content-type': 'application/octet-stream',
      'content-length': String(content.length),
      'accept-ranges': 'bytes',
      'x-content-type-options': 'nosniff',
      etag: `"${attachment.id}"`,
    });
    expect(response.headers['content-disposition']).toBe(
      `attachment; filename="scan 2024 _ r_.bin"; filename*=UTF-8''scan%202024%20%E2%80%93%20r%C3%A9.bin`,
    );
  });

  it('stores an empty file, and refuses a missing name or one with control characters or path separators', async () => {
    const empty = await uploaded(owner.accessToken, 'empty.txt', Buffer.alloc(0));
    expect(empty.size).toBe(0);
    const response = await download(owner.accessToken, empty.id);
    expect(response.status).toBe(200);
    expect(response.body.length).toBe(0);
    for (const name of ['', 'a\u0000b', 'line\nbreak', '../../etc/passwd', 'x'.repeat(256)]) {
      const refused = await upload(owner.accessToken, name, Buffer.from('data'));
      expect(refused.status, JSON.stringify(name)).toBe(400);
    }
    const unnamed = await server.request('/v1/attachments', {
      method: 'POST',
      headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'text/plain' },
      body: 'data',
    });
    expect(unnamed.status).toBe(400);
  });

  it('serves the type sniffed from the bytes: a PNG declared as text/plain is image/png, shown inline', async () => {
    const attachment = await uploaded(owner.accessToken, 'photo.txt', png, 'text/plain');
    expect(attachment.contentType).toBe('image/png');
    const response = await download(owner.accessToken, attachment.id);
    expect(response.headers['content-type']).toBe('image/png');
    expect(response.headers['content-disposition']).toMatch(/^inline; /);
    const text = await uploaded(owner.accessToken, 'notes', Buffer.from('plain words, ünïcode'), 'image/png');
    expect(text.contentType).toBe('text/plain');
    const served = await download(owner.accessToken, text.id);
    expect(served.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(served.headers['content-disposition']).toMatch(/^attachment; /);
  });

  it('never serves uploaded HTML or SVG as markup or inline (stored XSS)', async () => {
    const html = Buffer.from(
      '<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>',
    );
    const svg = Buffer.from(
      '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
    );
    for (const [name, bytes, declared] of [
      ['page.html', html, 'text/html'],
      ['logo.svg', svg, 'image/svg+xml'],
    ] as const) {
      const attachment = await uploaded(owner.accessToken, name, bytes, declared);
      expect(attachment.contentType, name).not.toMatch(/html|svg|xml/);
      const response = await download(owner.accessToken, attachment.id);
      expect(response.headers['content-type'], name).toMatch(/^(text\/plain|application\/octet-stream)/);
      expect(response.headers['content-disposition'], name).toMatch(/^attachment; /);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['content-security-policy']).toContain('sandbox');
    }
    const binary = await uploaded(owner.accessToken, 'blob', Buffer.from([0x41, 0x00, 0xff, 0xfe]));
    expect(binary.contentType).toBe('application/octet-stream');
  });

  it('refuses an attachment over the tenant’s limit with 413 attachment_too_large, keeps nothing and stays up', async () => {
    const small = await newTenantOwner(server, 'Tiny Files Ltd');
    const settings = await server.request(
      '/v1/tenant/settings',
      json({ messaging: { maxAttachmentBytes: 2048 } }, small.accessToken, 'PATCH'),
    );
    expect(settings.status, settings.text).toBe(200);
    const declared = await upload(small.accessToken, 'big.bin', randomBytes(2049));
    expect(declared.status).toBe(413);
    expect(declared.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'attachment_too_large',
      message: expect.stringContaining('2048 bytes') as string,
    });
    // Without a Content-Length the limit is found while streaming, chunk rows already written.
    const streamed = await fetchBytes(
      server,
      '/v1/attachments?name=stream.bin',
      { authorization: `Bearer ${small.accessToken}`, 'content-type': 'application/octet-stream' },
      pieces(10, 1000),
    );
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body.toString('utf8'))).toMatchObject({
      error: { code: 'attachment_too_large' },
    });
    expect(await rowsOf(server, small.tenantId)).toEqual({ attachments: 0, chunks: 0 });
    const fits = await upload(small.accessToken, 'fits.bin', randomBytes(2048));
    expect(fits.status).toBe(201);
    expect(await rowsOf(server, small.tenantId)).toEqual({ attachments: 1, chunks: 1 });
  });

  it('abandons an upload whose connection is cut: no attachment and no chunk stays', async () => {
    const before = await rowsOf(server, owner.tenantId);
    async function* cutOff(): AsyncGenerator<Buffer> {
      yield randomBytes(40 * CHUNK);
      await Promise.resolve();
      throw new Error('connection reset');
    }
    await expect(
      server.app.services.attachments.upload(owner.tenantId, owner.userId, {
        name: 'cut.bin',
        declaredType: undefined,
        declaredLength: undefined,
        content: cutOff(),
      }),
    ).rejects.toThrow('connection reset');
    expect(await rowsOf(server, owner.tenantId)).toEqual(before);
  });

  it('discards an upload whose client disconnects half-way, and stays up', async () => {
    const before = await rowsOf(server, owner.tenantId);
    // The real upload, observed: resolves once the server is reading the body, settles when it gave up.
    const service = server.app.services.attachments;
    const upload = service.upload.bind(service);
    let reading: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (reading = resolve));
    const outcome = new Promise<unknown>((resolve) => {
      vi.spyOn(service, 'upload').mockImplementationOnce((...args) => {
        reading();
        const result = upload(...args);
        result.then(resolve, resolve);
        return result;
      });
    });
    const socket = connect({
      host: '127.0.0.1',
      port: Number(new URL(server.url).port),
      ...(server.ca ? { ca: server.ca, servername: 'localhost' } : {}),
    });
    await once(socket, 'secureConnect');
    socket.write(
      `POST /v1/attachments?name=cut.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${owner.accessToken}\r\n` +
        'Content-Type: application/octet-stream\r\nContent-Length: 5000000\r\n\r\n',
    );
    socket.write(randomBytes(20 * CHUNK));
    await started;
    socket.destroy();
    expect(await outcome).toMatchObject({ code: 'bad_request' });
    expect(await rowsOf(server, owner.tenantId)).toEqual(before);
    expect((await server.request('/livez')).status).toBe(200);
  });

  it('answers single byte ranges with 206, decrypting across chunk boundaries; 416 when unsatisfiable', async () => {
    const content = randomBytes(3 * CHUNK + 100);
    const { id } = await uploaded(owner.accessToken, 'movie.bin', content);
    const ranged = async (range: string, start: number, end: number) => {
      const response = await download(owner.accessToken, id, { range });
      expect(response.status, range).toBe(206);
      expect(response.headers['content-range'], range).toBe(`bytes ${start}-${end}/${content.length}`);
      expect(response.body.equals(content.subarray(start, end + 1)), range).toBe(true);
    };
    await ranged('bytes=0-99', 0, 99);
    await ranged(`bytes=${CHUNK - 10}-${2 * CHUNK + 9}`, CHUNK - 10, 2 * CHUNK + 9);
    await ranged('bytes=-500', content.length - 500, content.length - 1);
    await ranged(`bytes=${3 * CHUNK}-`, 3 * CHUNK, content.length - 1);
    await ranged(
      `bytes=${content.length - 1}-${content.length + 50}`,
      content.length - 1,
      content.length - 1,
    );
    const unsatisfiable = await download(owner.accessToken, id, { range: `bytes=${content.length}-` });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers['content-range']).toBe(`bytes */${content.length}`);
    // Several ranges, and a range for another version (If-Range), answer the whole file.
    const several = await download(owner.accessToken, id, { range: 'bytes=0-1,5-6' });
    expect(several.status).toBe(200);
    expect(several.body.equals(content)).toBe(true);
    const stale = await download(owner.accessToken, id, { range: 'bytes=0-1', 'if-range': '"other"' });
    expect(stale.status).toBe(200);
  });

  it('lets members of a dialog where it was shared download it, and answers 404 to everyone else', async () => {
    const content = randomBytes(5000);
    const attachment = await uploaded(bob.token, 'minutes.pdf', content);
    // Not yet shared: only the uploader.
    expect((await download(carol.token, attachment.id)).status).toBe(404);
    expect((await download(owner.accessToken, attachment.id)).status).toBe(404);
    const dialogId = await dialogWith(bob.token, { type: 'group', name: 'Board', memberIds: [carol.userId] });
    const sent = await share(bob.token, dialogId, [attachment.id], 'with-file');
    expect(sent.status, sent.text).toBe(201);
    expect(sent.json<{ attachments: Attachment[] }>().attachments).toEqual([
      {
        id: attachment.id,
        removed: false,
        name: 'minutes.pdf',
        contentType: 'application/octet-stream',
        size: 5000,
      },
    ]);
    const history = await server.request(`/v1/dialogs/${dialogId}/messages`, bearer(carol.token));
    expect(history.json<{ messages: { attachments: Attachment[] }[] }>().messages[0]?.attachments).toEqual([
      expect.objectContaining({ id: attachment.id, name: 'minutes.pdf' }),
    ]);
    const asCarol = await download(carol.token, attachment.id);
    expect(asCarol.status).toBe(200);
    expect(asCarol.body.equals(content)).toBe(true);
    // Not a member of that dialog.
    expect((await download(owner.accessToken, attachment.id)).status).toBe(404);
    // Another tenant, with a perfectly valid token.
    const stranger = await newTenantOwner(server, 'Elsewhere Inc');
    expect((await download(stranger.accessToken, attachment.id)).status).toBe(404);
    // Carol leaves: her access goes with her.
    const left = await server.request(`/v1/dialogs/${dialogId}?mode=leave`, bearer(carol.token, 'DELETE'));
    expect(left.status).toBe(204);
    expect((await download(carol.token, attachment.id)).status).toBe(404);
  });

  it('hides attachments shared before a member joined a dialog with hidden history', async () => {
    const attachment = await uploaded(owner.accessToken, 'old.txt', Buffer.from('before you came'));
    const dialogId = await dialogWith(owner.accessToken, {
      type: 'public',
      name: 'Lobby',
      hideHistory: true,
    });
    expect((await share(owner.accessToken, dialogId, [attachment.id], 'old-file')).status).toBe(201);
    const joined = await server.request(`/v1/dialogs/${dialogId}/members/me`, bearer(bob.token, 'POST'));
    expect(joined.status, joined.text).toBe(200);
    expect((await download(bob.token, attachment.id)).status).toBe(404);
    const later = await uploaded(owner.accessToken, 'new.txt', Buffer.from('after you came'));
    expect((await share(owner.accessToken, dialogId, [later.id], 'new-file')).status).toBe(201);
    expect((await download(bob.token, later.id)).status).toBe(200);
  });

  it('shares only what the sender uploaded or can already see (forwarding); anything else is 404', async () => {
    const carols = await uploaded(carol.token, 'private.txt', Buffer.from('mine'));
    const dialogId = await dialogWith(bob.token, { type: 'private', memberIds: [owner.userId] });
    const stolen = await share(bob.token, dialogId, [carols.id], 'steal');
    expect(stolen.status).toBe(404);
    expect((await download(owner.accessToken, carols.id)).status).toBe(404);
    // Once Carol shares it with Bob, Bob may forward it.
    const withCarol = await dialogWith(carol.token, { type: 'private', memberIds: [bob.userId] });
    expect((await share(carol.token, withCarol, [carols.id], 'to-bob')).status).toBe(201);
    expect((await share(bob.token, dialogId, [carols.id], 'forward')).status).toBe(201);
    expect((await download(owner.accessToken, carols.id)).status).toBe(200);
    // An id that was never uploaded.
    const unknown = await share(bob.token, dialogId, ['00000000-0000-7000-8000-000000000000'], 'nothing');
    expect(unknown.status).toBe(404);
  });

  it('fails a download whose stored ciphertext was edited, aborting the response instead of serving bad bytes', async () => {
    const content = randomBytes(2 * CHUNK + 10);
    const { id } = await uploaded(owner.accessToken, 'ledger.bin', content);
    const chunk = await server.app.storage.kysely
      .selectFrom('attachment_chunks')
      .select('data')
      .where('attachment_id', '=', id)
      .where('idx', '=', 1)
      .executeTakeFirstOrThrow();
    const tampered = Buffer.from(chunk.data);
    tampered[100] = (tampered[100] ?? 0) ^ 1;
    await server.app.storage.kysely
      .updateTable('attachment_chunks')
      .set({ data: tampered })
      .where('attachment_id', '=', id)
      .where('idx', '=', 1)
      .execute();
    // Failing before the first byte is a 500; failing later aborts the response mid-body. Never a 2xx read.
    const refused = async (headers: Record<string, string> = {}) => {
      const outcome = await download(owner.accessToken, id, headers).then(
        (response) => String(response.status),
        () => 'aborted',
      );
      expect(outcome).toMatch(/^(aborted|500)$/);
    };
    await refused();
    await refused({ range: `bytes=${CHUNK}-${CHUNK + 5}` });
    await refused({ range: `bytes=${CHUNK - 5}-${CHUNK + 5}` });
    // Random access: a range inside an untouched chunk still verifies and reads.
    const first = await download(owner.accessToken, id, { range: 'bytes=0-99' });
    expect(first.status).toBe(206);
    expect(first.body.equals(content.subarray(0, 100))).toBe(true);
    // The server is still up.
    expect((await server.request('/livez')).status).toBe(200);
  });

  it('keeps neither the content nor the file name readable in the database', async () => {
    const secret = `Diagnosis for patient 4711: ${'confidential '.repeat(20000)}`;
    const name = 'patient-4711-diagnosis.txt';
    const { id } = await uploaded(owner.accessToken, name, Buffer.from(secret));
    const dialogId = await dialogWith(owner.accessToken, { type: 'group', name: 'Ward', memberIds: [] });
    expect((await share(owner.accessToken, dialogId, [id], 'secret-file')).status).toBe(201);
    const db = server.app.storage.kysely;
    const rows = [
      ...(await db.selectFrom('attachments').selectAll().execute()),
      ...(await db.selectFrom('attachment_chunks').selectAll().execute()),
      ...(await db.selectFrom('attachment_shares').selectAll().execute()),
      ...(await db.selectFrom('messages').selectAll().execute()),
    ];
    const dump = rows
      .flatMap((row) => Object.values(row as Record<string, unknown>))
      .map((value) => (Buffer.isBuffer(value) ? value.toString('latin1') : String(value)))
      .join('\n');
    expect(dump).toContain(id);
    for (const needle of ['Diagnosis for patient', 'confidential', 'patient-4711', 'diagnosis.txt']) {
      expect(dump).not.toContain(needle);
      expect(dump).not.toContain(Buffer.from(needle).toString('base64').slice(0, 16));
    }
  });
});

/** Random bytes as `count` separate writes of `size`, so the request goes out chunked, without a length. */
async function* pieces(count: number, size: number): AsyncGenerator<Buffer> {
  for (let index = 0; index < count; index += 1) {
    yield randomBytes(size);
    await Promise.resolve();
  }
}

async function fetchBytes(
  server: TestServer,
  path: string,
  headers: Record<string, string>,
  body?: AsyncIterable<Buffer>,
): Promise<Omit<TestResponse, 'text' | 'json'> & { body: Buffer; digest: string }> {
  const dispatcher = new Agent({ connect: server.ca ? { ca: server.ca, servername: 'localhost' } : {} });
  try {
    const response = await undiciRequest(`${server.url}${path}`, {
      dispatcher,
      method: body ? 'POST' : 'GET',
      headers,
      body: body ? Readable.from(body) : null,
    });
    const bytes = Buffer.from(await response.body.arrayBuffer());
    return {
      status: response.statusCode,
      headers: response.headers,
      body: bytes,
      digest: createHash('sha256').update(bytes).digest('hex'),
    };
  } finally {
    await dispatcher.close();
  }
}

async function rowsOf(server: TestServer, tenantId: string) {
  const db = server.app.storage.kysely;
  const count = async (table: 'attachments' | 'attachment_chunks') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .where('tenant_id', '=', tenantId)
          .executeTakeFirstOrThrow()
      ).n,
    );
  return { attachments: await count('attachments'), chunks: await count('attachment_chunks') };
}
