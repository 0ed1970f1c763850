/**
 * Gives every request and response body of the OpenAPI document a name under `components.schemas`, so generated
 * clients get named types. Schemas registered in the protocol (`.meta({ id })`) are named already; an inline
 * body is named after its operation (`createClient` → `CreateClientRequest`, `CreateClientResponse`, and
 * `…Response<status>` for a second answer with a body of its own).
 */

type Json = Record<string, unknown>;

interface Operation {
  operationId?: string;
  requestBody?: { content?: Record<string, { schema?: Json }> };
  responses?: Record<string, { content?: Record<string, { schema?: Json }> }>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas?: Record<string, Json> } & Json;
  [extension: `x-${string}`]: unknown;
}

const refPrefix = '#/components/schemas/';

const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

/** Objects and unions get a name; plain strings (raw bytes, text) stay inline. */
const worthNaming = (schema: Json) =>
  schema.$ref === undefined &&
  (schema.type === 'object' || ['oneOf', 'anyOf', 'allOf'].some((key) => key in schema));

export function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.values(document.paths).flatMap((methods) => Object.values(methods));
}

function hoist(schemas: Record<string, Json>, name: string, holder: { schema?: Json }): void {
  if (!holder.schema || !worthNaming(holder.schema)) return;
  if (schemas[name] !== undefined) throw new Error(`OpenAPI component ${name} is named twice`);
  schemas[name] = holder.schema;
  holder.schema = { $ref: `${refPrefix}${name}` };
}

/** Moves inline request and response bodies into named components. */
export function nameInlineBodies(document: OpenApiDocument): void {
  const schemas = (document.components.schemas ??= {});
  for (const operation of operationsOf(document)) {
    const base = pascal(operation.operationId ?? '');
    for (const media of Object.values(operation.requestBody?.content ?? {}))
      hoist(schemas, `${base}Request`, media);
    let named = 0;
    for (const [status, response] of Object.entries(operation.responses ?? {})) {
      for (const media of Object.values(response.content ?? {})) {
        const before = media.schema;
        const first = named === 0 && status.startsWith('2');
        hoist(schemas, first ? `${base}Response` : `${base}Response${status}`, media);
        if (media.schema !== before) named += 1;
      }
    }
  }
}

function refsIn(value: unknown, found: Set<string>): void {
  if (Array.isArray(value)) {
    for (const entry of value) refsIn(entry, found);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, entry] of Object.entries(value)) {
      if (key === '$ref' && typeof entry === 'string' && entry.startsWith(refPrefix))
        found.add(entry.slice(refPrefix.length));
      else refsIn(entry, found);
    }
  }
}

function renameRefs(value: unknown, renames: ReadonlyMap<string, string>): void {
  if (Array.isArray(value)) {
    for (const entry of value) renameRefs(entry, renames);
  } else if (typeof value === 'object' && value !== null) {
    const record = value as Json;
    for (const [key, entry] of Object.entries(record)) {
      const target =
        typeof entry === 'string' &&
        entry.startsWith(refPrefix) &&
        renames.get(entry.slice(refPrefix.length));
      if (key === '$ref' && target) record[key] = `${refPrefix}${target}`;
      else renameRefs(entry, renames);
    }
  }
}

/**
 * Keeps only the components the operations reach, and drops the `Input` suffix the zod transform gives every
 * registered schema's request-side twin when the response-side one is not used (`SendMessageRequestInput` →
 * `SendMessageRequest`; a schema used both ways keeps both, as `X` and `XInput`).
 */
export function pruneComponents(document: OpenApiDocument): void {
  const schemas = document.components.schemas ?? {};
  const reached = new Set<string>();
  refsIn(document.paths, reached);
  for (let pending = [...reached]; pending.length > 0;) {
    const found = new Set<string>();
    for (const name of pending) refsIn(schemas[name], found);
    pending = [...found].filter((name) => !reached.has(name));
    for (const name of pending) reached.add(name);
  }
  const renames = new Map<string, string>();
  for (const name of reached) {
    const plain = name.replace(/Input$/, '');
    if (plain !== name && !reached.has(plain)) renames.set(name, plain);
  }
  const entries = [...reached].map((name): [string, Json] => {
    const schema = schemas[name];
    if (schema === undefined) throw new Error(`OpenAPI component ${name} is referenced but not defined`);
    return [renames.get(name) ?? name, schema];
  });
  const kept = Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
  renameRefs(document.paths, renames);
  renameRefs(kept, renames);
  document.components.schemas = kept;
}
