import { dereference } from '@readme/openapi-parser';
import { errorCatalogue, type ErrorCode } from '@parley/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { builtInRolePermissions } from '../../src/access/roles.ts';
import { describeEachDialect } from '../support/dialects.ts';
import {
  json,
  memberPassword,
  newMember,
  newTenantOwner,
  ownerPassword,
  type SignedIn,
  signIn,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestResponse, type TestServer } from '../support/start-server.ts';

/**
 * Attack: send every operation the server documents in `/openapi.json` malformed input — NUL characters, lone
 * surrogates, numbers past every integer range, wrong types, deep or oversized JSON, odd path segments
 * (`..`, `%`, `%zz`, `%2F`, 300 characters), missing and extra fields, repeated and unknown query parameters,
 * bodies that are not JSON — as the tenant owner, as a plain member and without a token, hoping for a 5xx (a
 * crash path, a database refusal surfacing) or an error body that leaks internals (a stack trace, a source
 * path, the name of the framework, the query builder or the driver). Every answer must be below 500, every
 * error must carry our `{ error: { code, message, requestId } }` (OAuth endpoints: RFC 6749's `error`), and no
 * error body may name an internal.
 *
 * CI runs a bounded number of cases per operation; `PARLEY_FUZZ_RUNS=<n>` runs n per operation, and
 * `PARLEY_FUZZ_SEED` replays a failure.
 */
const runsPerOperation = Number(process.env.PARLEY_FUZZ_RUNS ?? 40);
const seed = process.env.PARLEY_FUZZ_SEED === undefined ? undefined : Number(process.env.PARLEY_FUZZ_SEED);

/** What an error body must never contain: stack frames, source paths, and the names of what we run on. */
const internals = [
  /\n\s+at /,
  /\bat [\w$.<>]+ \(/,
  /\.[cm]?[jt]s:\d/,
  /node_modules/,
  /kysely/i,
  /sqlite/i,
  /\bpg\b/,
  /postgres/i,
  /fastify/i,
  /\bFST_/,
  /ZodError/,
  /TypeError|RangeError|SyntaxError|ReferenceError/,
  /\bundici\b/i,
];

interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
}
interface Operation {
  method: string;
  path: string;
  parameters: { name: string; in: 'path' | 'query' | 'header'; schema?: JsonSchema; required?: boolean }[];
  body?: { contentType: string; schema: JsonSchema };
  /** The statuses the document says this operation answers. */
  statuses: string[];
}

/** Values a column cannot hold, or that parsers, coercions and drivers have been known to choke on. */
const hostileStrings = [
  'a\u0000b',
  '\u0000',
  'a\ud800b',
  '\udfff',
  '\ud83d',
  '',
  ' ',
  '😀',
  '\u202e\ufeff',
  'x'.repeat(5000),
  '..',
  '.',
  '%00',
  '%zz',
  '1e309',
  '-1',
  '9'.repeat(40),
  '0x1f',
  'NaN',
  'Infinity',
  'null',
  'true',
  '[]',
  '{}',
  '00000000-0000-7000-8000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '2024-02-30T00:00:00Z',
  '99999-01-01T00:00:00Z',
  "' OR 1=1 --",
  '__proto__',
  'constructor',
  '\\',
];
const hostileNumbers = [-1, 0, 1.5, -0.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 63, 2 ** 64, 1e308, -1e308, 5e-324];
/** Spliced into JSON text as is: numbers JSON.stringify cannot write (they parse to Infinity or lose digits). */
const rawNumbers = ['1e999', '-1e999', '123456789012345678901234567890', '-0', '1E+400'];

/** Characters of generated text: mostly plain, often a NUL or half of a surrogate pair, so they reach stores. */
const textUnit = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'Z', '7', '-', ' ', 'é', '😀') },
  { weight: 1, arbitrary: fc.constantFrom('\u0000', '\ud800', '\udc00') },
);

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...hostileStrings),
  fc.constantFrom(...hostileNumbers),
  fc.constantFrom(null, true, false, [], {}, [null], { '': null }, ['a\u0000']),
  fc.string({ maxLength: 20, unit: 'binary' }),
  fc.integer(),
  fc.double({ noNaN: true }),
);

/** The ids and names the fixtures created, so generated input also reaches services, not only schemas. */
interface Fixtures {
  ids: string[];
  /** The live resource each path parameter names, by parameter name. */
  byName: Record<string, string[]>;
  tenantId: string;
  emoji: string;
}

function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  return schema.type ? [schema.type] : [];
}

/**
 * A value that roughly fits the schema, so it gets past validation and reaches services and stores — with the
 * generated text often carrying a NUL or half a surrogate pair (see `textUnit`).
 */
function valueFor(
  schema: JsonSchema | undefined,
  fixtures: Fixtures,
  depth = 0,
  name = '',
): fc.Arbitrary<unknown> {
  if (!schema || depth > 4) return hostileValue;
  return fittingValue(schema, fixtures, depth, name);
}

/** A fitting value, or (one time in `odds`) a hostile one in its place. */
function mostlyFitting(
  schema: JsonSchema | undefined,
  fixtures: Fixtures,
  odds: number,
): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: odds - 1, arbitrary: valueFor(schema, fixtures) },
    { weight: 1, arbitrary: hostileValue },
  );
}

/** A fitting object with exactly one field (present or new) replaced by a hostile value. */
function oneFieldHostile(schema: JsonSchema | undefined, fixtures: Fixtures): fc.Arbitrary<unknown> {
  const keys = Object.keys(schema?.properties ?? {});
  return fc
    .tuple(valueFor(schema, fixtures), fc.constantFrom(...keys, 'extra'), hostileValue)
    .map(([value, key, hostile]) =>
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? { ...value, [key]: hostile }
        : hostile,
    );
}

/** Body fields that hold the id of a live fixture under another name. */
const idFields: Record<string, string> = {
  replyTo: 'messageId',
  mentions: 'userId',
  memberIds: 'userId',
  userIds: 'userId',
  attachments: 'attachmentId',
};

function stringFor(schema: JsonSchema, fixtures: Fixtures, name: string): fc.Arbitrary<unknown> {
  if (schema.format === 'uuid')
    return fc.constantFrom(...(fixtures.byName[idFields[name] ?? name] ?? fixtures.ids));
  if (schema.format === 'email') return fc.constantFrom('nobody@fuzz.example', 'a@b');
  if (schema.format === 'date-time') return fc.constantFrom('2024-01-01T00:00:00Z', '0000-01-01T00:00:00Z');
  if (schema.format === 'uri') return fc.constantFrom('https://fuzz.example/a.png', 'javascript:alert(1)');
  return fc.oneof(
    fc.string({
      unit: textUnit,
      minLength: schema.minLength ?? 0,
      maxLength: Math.min(schema.maxLength ?? 40, 40),
    }),
    fc.constantFrom(...(fixtures.byName[name] ?? []), fixtures.emoji, ':ok:', 'member', fixtures.tenantId),
  );
}

function numberFor(schema: JsonSchema): fc.Arbitrary<unknown> {
  const min = Math.max(schema.minimum ?? -5, -1e6);
  const max = Math.min(schema.maximum ?? 1e6, 1e6);
  return fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: Math.min(min, max), max }) },
    { weight: 1, arbitrary: fc.constantFrom(schema.minimum ?? 0, schema.maximum ?? 2 ** 53 - 1) },
  );
}

function fittingValue(
  schema: JsonSchema,
  fixtures: Fixtures,
  depth: number,
  name: string,
): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.const !== undefined) return fc.constant(schema.const);
  const alternatives = schema.anyOf ?? schema.oneOf ?? schema.allOf;
  if (alternatives && alternatives.length > 0) {
    return fc.oneof(...alternatives.map((entry) => valueFor(entry, fixtures, depth + 1, name)));
  }
  const choices = typesOf(schema).map((type): fc.Arbitrary<unknown> => {
    switch (type) {
      case 'string':
        return stringFor(schema, fixtures, name);
      case 'integer':
      case 'number':
        return numberFor(schema);
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array':
        return fc.array(valueFor(schema.items, fixtures, depth + 1, name), { maxLength: 3 });
      case 'object':
        return objectFor(schema, fixtures, depth);
      default:
        return hostileValue;
    }
  });
  return choices.length === 0 ? hostileValue : fc.oneof(...choices);
}

/** Free-form JSON (custom data): small, its keys and text drawn from the same NUL-prone characters. */
const freeForm = fc.dictionary(
  fc.string({ unit: textUnit, maxLength: 8 }),
  fc.oneof(fc.string({ unit: textUnit, maxLength: 20 }), fc.integer(), fc.boolean()),
  { maxKeys: 3 },
);

/** Required fields always; each optional one about a third of the time, so most objects stay valid. */
function objectFor(schema: JsonSchema, fixtures: Fixtures, depth: number): fc.Arbitrary<unknown> {
  const properties = Object.entries(schema.properties ?? {});
  if (properties.length === 0) return freeForm;
  const required = new Set(schema.required ?? []);
  const fields = properties.map(([key, entry]) => {
    const value = valueFor(entry, fixtures, depth + 1, key);
    return required.has(key)
      ? value.map((chosen) => [key, chosen] as const)
      : fc.oneof(
          { weight: 2, arbitrary: fc.constant(null) },
          { weight: 1, arbitrary: value.map((chosen) => [key, chosen] as const) },
        );
  });
  return fc.tuple(...fields).map((entries) => Object.fromEntries(entries.filter((entry) => entry !== null)));
}

/** Whole-body mutations: wrong root types, missing and extra fields, deep nesting, raw numbers, non-JSON text. */
function bodyFor(operation: Operation, fixtures: Fixtures): fc.Arbitrary<string | undefined> {
  const schema = operation.body?.schema;
  const fitting = valueFor(schema, fixtures).map((value) => JSON.stringify(value) as string | undefined);
  // Large bodies are generated as short recipes (see `render`), so a counterexample stays readable.
  const deep = fc.integer({ min: 30, max: 50_000 }).map((depth) => `@deep:${depth}`);
  const withRaw = fc
    .tuple(fc.constantFrom(...Object.keys(schema?.properties ?? { x: {} })), fc.constantFrom(...rawNumbers))
    .map(([key, raw]) => `{${JSON.stringify(key)}:${raw}}`);
  const broken = fc.constantFrom(
    '{',
    '{"a":}',
    '[1,]',
    'nul',
    '\u0000',
    '{"a":"\\ud800"}',
    '"\\u0000"',
    '',
    ' ',
  );
  const extra = valueFor(schema, fixtures).map((value) =>
    JSON.stringify(
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? { ...value, extra: 1, ['a\u0000']: 'b' }
        : value,
    ),
  );
  return fc.oneof(
    { weight: 10, arbitrary: fitting },
    { weight: 4, arbitrary: oneFieldHostile(schema, fixtures).map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: hostileValue.map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: withRaw },
    { weight: 1, arbitrary: broken },
    { weight: 1, arbitrary: extra },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant('@huge:1100000') },
  );
}

/** Expands a body recipe: `@deep:<n>` nests n arrays, `@huge:<n>` is an n-character string field. */
function render(body: string): string {
  const [, kind, size] = /^@(deep|huge):(\d+)$/.exec(body) ?? [];
  if (kind === 'deep') return `{"a":${'['.repeat(Number(size))}${']'.repeat(Number(size))}}`;
  if (kind === 'huge') return `{"a":"${'x'.repeat(Number(size))}"}`;
  return body;
}

/** Percent-encodes as UTF-8, except that a lone surrogate becomes the bytes an encoder would refuse to write. */
function encode(text: string): string {
  // Code points, so a surrogate pair stays one character and only a lone half is special.
  return Array.from(text)
    .map((char) => {
      const code = char.charCodeAt(0);
      return char.length === 1 && code >= 0xd800 && code <= 0xdfff
        ? `%ED%${(0x80 | ((code >> 6) & 0x3f)).toString(16).toUpperCase()}%${(0x80 | (code & 0x3f)).toString(16).toUpperCase()}`
        : encodeURIComponent(char);
    })
    .join('');
}

const asText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

function pathSegmentFor(
  name: string,
  schema: JsonSchema | undefined,
  fixtures: Fixtures,
): fc.Arbitrary<string> {
  const live = fixtures.byName[name] ?? [];
  return fc.oneof(
    { weight: live.length > 0 ? 6 : 0, arbitrary: fc.constantFrom(...live, '').map(encode) },
    { weight: 3, arbitrary: mostlyFitting(schema, fixtures, 3).map((value) => encode(asText(value))) },
    // Sent as is: not percent-encoded, or encoded oddly.
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '..',
        '.',
        '%',
        '%zz',
        '%2F',
        '%2e%2e',
        ';',
        'a'.repeat(300),
        '%C0%AE',
        '%00',
        `${live[0] ?? 'a'}%00`,
        '%ED%A0%80',
      ),
    },
  );
}

function queryFor(operation: Operation, fixtures: Fixtures): fc.Arbitrary<string> {
  const parameters = operation.parameters.filter((parameter) => parameter.in === 'query');
  const pairs = parameters.map((parameter) =>
    fc.option(
      fc
        .array(mostlyFitting(parameter.schema, fixtures, 5), { minLength: 1, maxLength: 2 })
        .map((values) =>
          values.map((value) => `${encode(parameter.name)}=${encode(asText(value))}`).join('&'),
        ),
      { freq: 3 },
    ),
  );
  const extra = fc.option(fc.constantFrom('unknown=1', 'a%00=1', '%=%', 'access_token=x', '&&=&'), {
    freq: 4,
  });
  return fc.tuple(fc.tuple(...pairs), extra).map(([chosen, more]) => {
    const query = [...chosen, more].filter((entry): entry is string => entry !== null).join('&');
    return query === '' ? '' : `?${query}`;
  });
}

/** The same fields as a form (the OAuth endpoints); text that is no JSON object goes as it is. */
function asForm(body: string): string {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return body;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return body;
  try {
    return new URLSearchParams(
      Object.entries(value).map(([key, entry]): [string, string] => [key, asText(entry)]),
    ).toString();
  } catch {
    return body; // Too deep to write as a form field: send the JSON text as the (malformed) form.
  }
}

type Caller = 'owner' | 'member' | 'anonymous';

/**
 * The OAuth endpoints take forms and validate them per grant in the handler, so the document has no body
 * schema for them; these are the fields RFC 6749/7009/7662 and our MFA grant define.
 */
const oauthForm: JsonSchema = {
  type: 'object',
  properties: {
    grant_type: {
      enum: [
        'password',
        'refresh_token',
        'client_credentials',
        'urn:parley:params:oauth:grant-type:mfa-otp',
        'x',
      ],
    },
    tenant_id: { type: 'string', format: 'uuid' },
    username: { type: 'string' },
    password: { type: 'string' },
    refresh_token: { type: 'string' },
    token: { type: 'string' },
    token_type_hint: { enum: ['access_token', 'refresh_token'] },
    client_id: { type: 'string' },
    client_secret: { type: 'string' },
    scope: { type: 'string' },
    mfa_token: { type: 'string' },
    otp: { type: 'string' },
    recovery_code: { type: 'string' },
  },
  required: ['grant_type'],
};

function readOperations(document: unknown): Operation[] {
  const { paths, 'x-parley-any-request-errors': beforeRouting } = document as {
    paths: Record<string, Record<string, unknown>>;
    'x-parley-any-request-errors': ErrorCode[];
  };
  // Refusals any request can meet before it reaches a route (a path parameter too long: 414) are listed once.
  const anyRequest = beforeRouting.map((code) => String(errorCatalogue[code].status));
  return Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, raw]) => {
      const spec = raw as {
        parameters?: Operation['parameters'];
        requestBody?: { content: Record<string, { schema: JsonSchema }> };
        responses?: Record<string, unknown>;
      };
      const [contentType, content] = Object.entries(spec.requestBody?.content ?? {})[0] ?? [];
      return {
        method: method.toUpperCase(),
        path,
        parameters: spec.parameters ?? [],
        statuses: [...Object.keys(spec.responses ?? {}), ...anyRequest],
        ...(contentType && content ? { body: { contentType, schema: content.schema } } : {}),
        ...(path.startsWith('/oauth/')
          ? { body: { contentType: 'application/x-www-form-urlencoded', schema: oauthForm } }
          : {}),
      };
    }),
  );
}

/**
 * `reachesOperation` is false when a dot segment (`..`, `%2e`) sends the request to another path (the URL is
 * normalised before it is sent): the answer is then another operation's, and only its shape is checked.
 */
function checkAnswer(operation: Operation, response: TestResponse, reachesOperation = true): void {
  const where = `${operation.method} ${operation.path} → ${response.status} ${response.text.slice(0, 300)}`;
  expect(response.status, where).toBeLessThan(500);
  // Every answer is one the document promises (a new service error gets a row in http/operation-outcomes.ts).
  if (reachesOperation)
    expect(operation.statuses, `undocumented answer: ${where}`).toContain(String(response.status));
  if (response.status < 400) return;
  let body: unknown;
  try {
    body = JSON.parse(response.text);
  } catch {
    expect.fail(`error body is not JSON: ${where}`);
  }
  if (operation.path.startsWith('/oauth/')) {
    expect(body, where).toMatchObject({ error: expect.any(String) as string });
  } else {
    expect(body, where).toMatchObject({
      error: { code: expect.any(String) as string, requestId: expect.any(String) as string },
    });
  }
  for (const pattern of internals)
    expect(response.text, `${where} matches ${String(pattern)}`).not.toMatch(pattern);
}

describeEachDialect(
  'every documented operation answers malformed input without a 5xx or a leak',
  (dialect) => {
    let server: TestServer;
    let owner: SignedIn;
    let member: { userId: string; token: string; email: string };
    let fixtures: Fixtures;
    let operations: Operation[];
    const tokens = new Map<Caller, string>();
    /** Moved past an account lockout that generated calls caused (wrong current passwords count as failures). */
    let clockOffset = 0;

    beforeAll(async () => {
      server = await startTestServer({ dialect, clock: { now: () => Date.now() + clockOffset } });
      owner = await newTenantOwner(server, 'Fuzz Clinic');
      const email = 'mia@fuzz.example';
      member = { ...(await newMember(server, owner, email, 'profile chat calls')), email };
      // Generated sign-ins fail often; the per-address throttle would otherwise lock the fixtures out.
      const settings = await server.request(
        '/v1/tenant/settings',
        json(
          {
            passwordPolicy: {
              ipLockout: { maxFailures: 100_000, windowSeconds: 60 },
              lockout: { maxFailures: 100, baseDelaySeconds: 1, maxDelaySeconds: 60 },
            },
          },
          owner.accessToken,
          'PATCH',
        ),
      );
      expect(settings.status, settings.text).toBe(200);
      const dialog = await server.request(
        '/v1/dialogs',
        json({ type: 'group', name: 'Fuzz', memberIds: [member.userId] }, owner.accessToken),
      );
      const dialogId = dialog.json<{ id: string }>().id;
      const sent = await server.request(
        `/v1/dialogs/${dialogId}/messages`,
        json({ clientId: 'fixture', body: 'hello' }, owner.accessToken),
      );
      const sessions = await server.app.services.sessions.listUserSessions(owner.tenantId, owner.userId);
      const file = await server.request('/v1/attachments?name=fuzz.txt', {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'text/plain' },
        body: 'fuzz',
      });
      expect(file.status, file.text).toBe(201);
      const byName = {
        dialogId: [dialogId],
        messageId: [sent.json<{ id: string }>().id],
        userId: [owner.userId, member.userId],
        sessionId: [sessions[0]?.id ?? dialogId],
        attachmentId: [file.json<{ id: string }>().id],
        tenantId: [owner.tenantId],
        emoji: ['👍', ':ok:'],
        name: ['member', 'fuzz_role'],
      };
      fixtures = {
        ids: Object.values(byName)
          .flat()
          .filter((value) => /^[0-9a-f-]{36}$/.test(value)),
        byName,
        tenantId: owner.tenantId,
        emoji: '👍',
      };
      const documentResponse = await server.request('/openapi.json');
      expect(documentResponse.status).toBe(200);
      // Bodies are named schemas ($ref): read them resolved.
      operations = readOperations(await dereference(documentResponse.json()));
      tokens.set('owner', owner.accessToken);
      tokens.set('member', member.token);
    });

    afterAll(async () => {
      await server.close();
    });

    /**
     * Generated calls may end the caller's session (sign out everywhere, a revoked token), deactivate the
     * caller or lock the account; the next case reactivates and signs in again, so every case runs as its caller.
     */
    async function ensureSignedIn(caller: Caller): Promise<void> {
      if (caller === 'anonymous') return;
      const probe = await server.request('/v1/me', {
        headers: { authorization: `Bearer ${tokens.get(caller) ?? ''}` },
      });
      if (probe.status === 200) return;
      const userId = caller === 'owner' ? owner.userId : member.userId;
      const system = { type: 'system' as const };
      // A generated restriction (owner restricting the member) refuses the status change below: lifted first.
      if (userId !== owner.userId)
        await server.app.services.restrictions
          .lift(
            owner.tenantId,
            { actor: { type: 'user', id: owner.userId }, context: {}, userId: owner.userId, isOwner: true },
            userId,
            { reason: 'fuzz: give the fixture its account back' },
          )
          .catch((error: unknown) => {
            if ((error as { code?: string }).code !== 'not_restricted') throw error;
          });
      await server.app.services.accounts.setStatus(owner.tenantId, userId, 'active', system, {}, true);
      const [email, password] =
        caller === 'owner' ? [owner.email, ownerPassword] : [member.email, memberPassword];
      const scope = caller === 'owner' ? 'profile chat calls admin audit' : 'profile chat calls';
      const signInNow = () => signIn(server, owner.tenantId, email, password, scope);
      const signedIn = await signInNow().catch(async () => {
        clockOffset += 61_000;
        return signInNow();
      });
      tokens.set(caller, signedIn.accessToken);
    }

    function caseFor(operation: Operation) {
      const pathParameters = [...operation.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1] ?? '');
      const schemaOf = (name: string) => operation.parameters.find((entry) => entry.name === name)?.schema;
      return fc.record({
        caller: fc.constantFrom<Caller>('owner', 'member', 'anonymous'),
        segments: fc.tuple(...pathParameters.map((name) => pathSegmentFor(name, schemaOf(name), fixtures))),
        query: queryFor(operation, fixtures),
        body:
          operation.body || operation.method !== 'GET'
            ? bodyFor(operation, fixtures)
            : fc.constant(undefined),
        contentType: fc.oneof(
          { weight: 8, arbitrary: fc.constant(operation.body?.contentType ?? 'application/json') },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              'application/json; charset=latin1',
              'text/plain',
              'application/x-www-form-urlencoded',
            ),
          },
        ),
      });
    }

    it('reads every operation from /openapi.json', () => {
      expect(operations.length).toBeGreaterThan(50);
    });

    it(
      `answers generated malformed requests to every operation (${runsPerOperation} per operation) without a 5xx or a leak`,
      async () => {
        let sent = 0;
        for (const operation of operations) {
          await fc.assert(
            fc.asyncProperty(caseFor(operation), async ({ caller, segments, query, body, contentType }) => {
              await ensureSignedIn(caller);
              let index = 0;
              const path = operation.path.replace(/\{\w+\}/g, () => segments[index++] ?? '');
              const token = tokens.get(caller);
              const isForm = contentType.startsWith('application/x-www-form-urlencoded');
              const payload = body === undefined ? undefined : isForm ? asForm(render(body)) : render(body);
              const response = await server.request(`${path}${query}`, {
                method: operation.method,
                headers: {
                  ...(token && caller !== 'anonymous' ? { authorization: `Bearer ${token}` } : {}),
                  ...(payload === undefined ? {} : { 'content-type': contentType }),
                },
                ...(payload === undefined ? {} : { body: payload }),
              });
              sent += 1;
              const dotSegment = segments.some((segment) => /^(\.|%2e){1,2}$/i.test(segment));
              checkAnswer(operation, response, !dotSegment);
              if (operation.path === '/v1/users/{userId}/roles' && response.status < 300) {
                // Give both fixtures their roles back, so later cases still run as owner and plain member.
                const restorer = {
                  userId: owner.userId,
                  sessionId: 'fuzz-restore',
                  roles: ['owner'],
                  permissions: new Set(builtInRolePermissions.owner),
                };
                const { userAdmin } = server.app.services;
                await userAdmin.setRoles(owner.tenantId, restorer, owner.userId, ['owner'], {});
                await userAdmin.setRoles(owner.tenantId, restorer, member.userId, ['member'], {});
              }
              if (operation.path === '/v1/tenant/closure' && response.status === 201) {
                // A closure the fuzzer made would leave the fixture tenant read-only for every later case.
                await server.app.services.tenantClosures.reopen(owner.tenantId, { type: 'operator' });
              }
              if (operation.path === '/v1/users/{userId}/erasure' && response.status === 202) {
                // An erasure the fuzzer scheduled (graceDays 0 included) would erase a fixture: withdrawn here,
                // long before the job runner's next look (PARLEY_JOB_POLL_INTERVAL_MS).
                await server.app.storage.withTenant(owner.tenantId, async (tx) => {
                  const now = Date.now();
                  await tx
                    .updateTable('erasures')
                    .set({ status: 'cancelled', cancelled_at: now, updated_at: now })
                    .where('status', '=', 'scheduled')
                    .execute();
                  await tx
                    .updateTable('jobs')
                    .set({ state: 'cancelled', updated_at: now, finished_at: now })
                    .where('kind', '=', 'gdpr_erasure')
                    .where('state', '=', 'queued')
                    .execute();
                });
              }
            }),
            { numRuns: runsPerOperation, ...(seed === undefined ? {} : { seed }) },
          );
        }
        expect(sent).toBe(operations.length * runsPerOperation);
      },
      // About 150 operations × 40 requests: 96 s on SQLite, 175 s on PostgreSQL with the machine busy.
      Math.max(120_000, runsPerOperation * 10_000),
    );
  },
);
