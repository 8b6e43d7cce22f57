import fc from 'fast-check';
import type { Response } from 'supertest';
import { describeEachDatabase } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';

/**
 * Property-based fuzzing of every operation in the OpenAPI document the running app serves:
 * generated bodies (any JSON value, the documented fields filled with anything, raw text under
 * random content types and encodings), query strings (documented names with any value,
 * duplicates, unknown names), path parameters (any string, percent-encoded or not) and
 * credentials (master key, non-master key, none, garbage). Whatever comes in, keymeter must not
 * answer 5xx, and every 4xx must be the one error envelope without a stack trace.
 *
 * Most of what is fuzzed is the HTTP pipeline (body parser, guard, validation pipe, exception
 * filter), the same code on both databases, so one provider would do; but a run takes seconds,
 * and what reaches the database (odd Unicode in names, say) can fail differently on each, so it
 * runs on both like every other e2e suite. The run is bounded: RUNS requests per operation and facet, plus the
 * shrinking of a failure, cut off after TIME_LIMIT_MS; well under a minute for the whole file.
 */

const RUNS = 60;
/** Per operation and facet: the runs themselves take well under a second; the rest shrinks. */
const TIME_LIMIT_MS = 2500;
const STACK_TRACE = /at .*\.(js|ts):\d+/;
const ENVELOPE_KEYS = 'error,message,statusCode,success';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
const METHODS: readonly string[] = ['get', 'post', 'put', 'patch', 'delete'];

interface Operation {
  method: Method;
  template: string;
  pathParams: string[];
  queryParams: string[];
  bodyProps: string[];
}

interface GeneratedRequest {
  path: string;
  query: string;
  headers: Record<string, string>;
  body?: { type: string; text: string; encoding?: string };
}

interface OpenApiSchema {
  $ref?: string;
  properties?: Record<string, unknown>;
  allOf?: OpenApiSchema[];
}

interface OpenApiOperation {
  parameters?: { name: string; in: string }[];
  requestBody?: { content?: Record<string, { schema?: OpenApiSchema }> };
}

interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, OpenApiSchema> };
}

function propertiesOf(doc: OpenApiDocument, schema: OpenApiSchema | undefined): string[] {
  if (!schema) return [];
  if (schema.$ref) {
    const name = schema.$ref.split('/').pop() ?? '';
    return propertiesOf(doc, doc.components?.schemas?.[name]);
  }
  const own = Object.keys(schema.properties ?? {});
  return [...own, ...(schema.allOf ?? []).flatMap((s) => propertiesOf(doc, s))];
}

function operationsOf(doc: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const params = op.parameters ?? [];
      const content = op.requestBody?.content ?? {};
      const schema = (content['application/json'] ?? Object.values(content)[0])?.schema;
      operations.push({
        method: method as Method,
        template,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: params.filter((p) => p.in === 'query').map((p) => p.name),
        bodyProps: [...new Set(propertiesOf(doc, schema))],
      });
    }
  }
  return operations;
}

/** encodeURIComponent, which throws on a lone surrogate: that one is sent as %ED%A0%80-like bytes. */
function encodeSafely(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return [...Buffer.from(value)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  }
}

/** What is wrong with a response, or null when it is an acceptable answer to anything. */
function problemWith(res: Response): string | null {
  if (res.status >= 500) return `answered ${res.status}`;
  if (STACK_TRACE.test(res.text ?? '')) return 'the body holds a stack trace';
  if (res.status < 400) return null;
  const body: unknown = res.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return `a ${res.status} without a JSON envelope`;
  }
  const e = body as Record<string, unknown>;
  const message = e.message;
  // Refusals added after the published envelope name their reason in `code` (EXPIRED).
  const { code, ...published } = e;
  const wellFormed =
    Object.keys(published).sort().join(',') === ENVELOPE_KEYS &&
    (code === undefined || (typeof code === 'string' && /^[A-Z_]+$/.test(code))) &&
    e.success === false &&
    e.statusCode === res.status &&
    typeof e.error === 'string' &&
    e.error !== '' &&
    ((typeof message === 'string' && message !== '') ||
      (Array.isArray(message) &&
        message.length > 0 &&
        message.every((m) => typeof m === 'string' && m !== '')));
  if (!wellFormed) return `a ${res.status} with a malformed envelope`;
  if (res.status === 401 && res.headers['www-authenticate'] !== 'Basic realm="keymeter"') {
    return 'a 401 without the Basic challenge';
  }
  return null;
}

describeEachDatabase('fuzzing every route in the OpenAPI document', (ctx) => {
  let operations: Operation[];
  let owner: TestAccount;
  let other: TestAccount;
  /** A non-master key that authenticates the "holder" requests; never a path target. */
  let holderKey: string;
  /** Keys and ids the path parameters may point at (some of them get renamed or deleted). */
  let refs: string[];

  beforeAll(async () => {
    const { http } = ctx();
    const doc = (await http.get('/docs-json').expect(200)).body as OpenApiDocument;
    // A roll of the master or holder key (both among the path values) expires the credentials
    // every later request is sent with: rolls go last, so that they cut short no other route.
    const rollsLast = (op: Operation) => (op.template.endsWith('/roll') ? 1 : 0);
    operations = operationsOf(doc).sort((a, b) => rollsLast(a) - rollsLast(b));
    owner = await account(http);
    other = await account(http);
    const master = { Authorization: basic(owner.masterKey) };
    const keys: { key: string; name: string }[] = [];
    for (const name of ['holder', 'target one', 'target two']) {
      const res = await http.post('/1.0/keys').set(master).send({ name }).expect(200);
      keys.push({ key: res.body.key as string, name });
    }
    holderKey = keys[0].key;
    const listed = await http.get('/1.0/keys').set(master).expect(200);
    const ids = (listed.body.keys as { id: string; name: string }[])
      .filter((k) => k.name.startsWith('target'))
      .map((k) => k.id);
    refs = [
      keys[1].key,
      keys[2].key,
      ...ids,
      owner.masterKeyId,
      other.masterKey,
      other.masterKeyId,
    ];
  });

  const printable = fc.string({ unit: 'grapheme-ascii', maxLength: 30 });
  const anyString = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 30 }),
    fc.string({ unit: 'binary', maxLength: 10 }),
    printable,
    // Lone surrogates, bidi and BOM marks, NUL: rare in random strings, common in attacks.
    fc.constantFrom('\ud800', 'half \udfff pair', '\u202egnp.exe', '\ufeffbom', 'nul\u0000'),
  );
  const anyValue: fc.Arbitrary<unknown> = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    anyString,
    fc.constantFrom('', ' ', '\u0000', -1, 0, 1.5, Number.MAX_SAFE_INTEGER, 2 ** 53, 1e300),
    fc.jsonValue({ maxDepth: 2 }),
  );

  /** Values that pass validation for a documented field, so requests also get past the pipes. */
  function validValue(prop: string): fc.Arbitrary<unknown> {
    switch (prop) {
      case 'email':
        return fc.constantFrom(owner.email, other.email, ` ${owner.email.toUpperCase()} `);
      case 'password':
        return fc.constant(owner.password);
      case 'name':
        return fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 });
      case 'key':
        return fc.constantFrom(holderKey, ...refs.filter((r) => r.startsWith('km_')));
      case 'volume':
        return fc.nat();
      case 'isActive':
        return fc.boolean();
      case 'apiKeyId':
        return fc.constantFrom(...refs.filter((r) => !r.startsWith('km_')));
      default:
        return anyString;
    }
  }

  const queryValue = fc.oneof(
    anyString,
    fc.constantFrom(
      '2021-01-19',
      '2021-01-19T00:00:00',
      '2021-01-28T23:59:59Z',
      '2021-02-30',
      '99999-01-01',
      'minute',
      'hour',
      'day',
      'week',
      'month',
      'csv',
      'json',
      '',
    ),
  );

  function queryArb(names: string[]): fc.Arbitrary<string> {
    const name = names.length > 0 ? fc.oneof(fc.constantFrom(...names), printable) : printable;
    return fc
      .array(fc.tuple(name, queryValue), { maxLength: 5 })
      .map((pairs) => pairs.map(([k, v]) => `${encodeSafely(k)}=${encodeSafely(v)}`).join('&'));
  }

  const pathValue = (): fc.Arbitrary<string> =>
    fc.oneof(
      fc.constantFrom(...refs),
      fc.uuid(),
      anyString.map(encodeSafely),
      // Not encoded: a stray % makes invalid percent-encoding, dots make dot segments.
      fc.stringMatching(/^[A-Za-z0-9%._~'-]{0,40}$/),
    );

  const contentType = fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset=latin1',
    'application/merge-patch+json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    '*/*',
  );

  function bodyArb(props: string[]): {
    json: fc.Arbitrary<GeneratedRequest['body']>;
    raw: fc.Arbitrary<GeneratedRequest['body']>;
  } {
    const documented =
      props.length === 0
        ? fc.constant({})
        : fc.record(
            Object.fromEntries(
              props.map((p) => [
                p,
                fc.oneof(
                  { weight: 3, arbitrary: validValue(p) },
                  { weight: 2, arbitrary: anyValue },
                ),
              ]),
            ),
            { requiredKeys: [] },
          );
    const withExtras = fc
      .tuple(documented, fc.option(fc.dictionary(printable, anyValue, { maxKeys: 2 })))
      .map(([known, extra]) => ({ ...(extra ?? {}), ...known }));
    const asJson = (value: unknown) => ({ type: 'application/json', text: JSON.stringify(value) });
    return {
      json: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 3 }).map(asJson), {
        weight: 4,
        arbitrary: withExtras.map(asJson),
      }),
      raw: fc.record(
        {
          type: contentType,
          text: fc.oneof(
            anyString,
            withExtras.map((o) => JSON.stringify(o)),
          ),
          encoding: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown'),
        },
        { requiredKeys: ['type', 'text'] },
      ),
    };
  }

  function headersArb(): fc.Arbitrary<Record<string, string>> {
    const style = (key: string) =>
      fc.constantFrom<Record<string, string>>(
        { Authorization: basic(key) },
        { Authorization: `Bearer ${key}` },
        { 'x-api-key': key },
      );
    const garbage = fc.oneof(
      printable.map((s) => ({ 'x-api-key': s })),
      printable.map((s) => ({ Authorization: `Basic ${s}` })),
      printable.map((s) => ({ Authorization: `Bearer ${s}` })),
      printable.map((s) => ({ Authorization: s })),
    );
    return fc.oneof(
      { weight: 5, arbitrary: style(owner.masterKey) },
      { weight: 2, arbitrary: style(holderKey) },
      { weight: 1, arbitrary: fc.constant({}) },
      { weight: 2, arbitrary: garbage },
    );
  }

  /**
   * One facet of a request is fuzzed at a time, the others kept plain, so that one bug (say in
   * the body parser) does not hide the others (say in the query validation) behind it.
   */
  type Facet = 'json body' | 'raw body' | 'query string' | 'path';
  const FACETS: Facet[] = ['json body', 'raw body', 'query string', 'path'];

  function requestArb(op: Operation, facet: Facet): fc.Arbitrary<GeneratedRequest> {
    const plainPath = op.pathParams.map(() => fc.constantFrom(...refs));
    const bodies = bodyArb(op.bodyProps);
    return fc
      .record({
        values: fc.tuple(...(facet === 'path' ? op.pathParams.map(() => pathValue()) : plainPath)),
        query: facet === 'query string' ? queryArb(op.queryParams) : fc.constant(''),
        headers: headersArb(),
        body:
          facet === 'json body'
            ? bodies.json
            : facet === 'raw body'
              ? bodies.raw
              : fc.oneof(fc.constant(undefined), bodies.json),
      })
      .map(({ values, query, headers, body }) => {
        let path = op.template;
        op.pathParams.forEach((name, i) => {
          path = path.replace(`{${name}}`, values[i] as string);
        });
        return { path, query, headers, body };
      });
  }

  async function send(op: Operation, r: GeneratedRequest): Promise<Response> {
    const url = r.query ? `${r.path}?${r.query}` : r.path;
    const req = ctx().http[op.method](url).set(r.headers);
    if (!r.body) return req;
    req.set('Content-Type', r.body.type);
    if (r.body.encoding) req.set('Content-Encoding', r.body.encoding);
    return req.send(r.body.text);
  }

  it('finds the documented routes to fuzz', () => {
    const listed = operations.map((op) => `${op.method.toUpperCase()} ${op.template}`);
    expect(listed).toEqual(
      expect.arrayContaining([
        'POST /api/v1/auth/register',
        'GET /1.0/keys',
        'POST /1.0/keys',
        'PUT /1.0/keys/{key}',
        'PATCH /1.0/keys/{key}',
        'DELETE /1.0/keys/{key}',
        'GET /1.0/keys/{key}',
        'GET /1.0/me',
        'GET /1.0/me/usage',
        'POST /1.0/verify',
        'POST /api/v1/keys/generate',
        'POST /api/v1/keys/getApiKeys',
        'POST /api/v1/keys/usageAnalytics',
      ]),
    );
  });

  it('never answers 5xx and always answers 4xx with the error envelope, on every route', async () => {
    const failures: string[] = [];
    for (const op of operations) {
      for (const facet of FACETS) {
        if (facet === 'path' && op.pathParams.length === 0) continue;
        if (facet === 'query string' && op.queryParams.length === 0 && op.method !== 'get') {
          continue;
        }
        const details = await fc.check(
          fc.asyncProperty(requestArb(op, facet), async (r) => {
            const res = await send(op, r);
            const problem = problemWith(res);
            if (problem) {
              throw new Error(`${problem}: ${res.status} ${(res.text ?? '').slice(0, 300)}`);
            }
          }),
          { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS },
        );
        if (details.failed) {
          const request = JSON.stringify(details.counterexample?.[0]);
          const error = details.errorInstance instanceof Error ? details.errorInstance.message : '';
          failures.push(
            `${op.method.toUpperCase()} ${op.template} (${facet})\n  request: ${request}\n` +
              `  ${error}\n  (seed ${details.seed}, path "${details.counterexamplePath}")`,
          );
        }
      }
    }
    expect(failures.join('\n\n')).toBe('');
  }, 90_000);
});
