import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Response } from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { KeyVault } from '../src/common/crypto/key-vault.service';
import { UsageMeter } from '../src/usage/usage-meter.service';
import { describeEachDatabase, startApp } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';

/**
 * One test per line of docs/bad-input.md (the ids in brackets). Every refusal is checked the
 * same way: the status, the exact envelope `{success: false, statusCode, error, message}`, a
 * message that names what to fix, a Basic challenge on 401, and no stack trace in the body.
 */

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

interface Call {
  method: Method;
  path: string;
  headers?: Record<string, string>;
  /** An object or array is sent as JSON; a string or Buffer is sent as it is. */
  body?: unknown;
}

const STACK_TRACE = /at .*\.(js|ts):\d+/;
const CHALLENGE = 'Basic realm="keymeter"';
const ENVELOPE_KEYS = 'error,message,statusCode,success';
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
};

const label = (c: Call) => `${c.method.toUpperCase()} ${c.path}`;

function send(http: TestAgent, c: Call) {
  const req = http[c.method](c.path).set(c.headers ?? {});
  if (c.body === undefined) return req;
  if (typeof c.body === 'string') return req.send(c.body);
  // superagent would serialise a Buffer as JSON under a JSON content type: send its bytes.
  if (Buffer.isBuffer(c.body)) return req.serialize((bytes: Buffer) => bytes as never).send(c.body);
  return req
    .set('Content-Type', req.get('Content-Type') ?? 'application/json')
    .send(c.body as object);
}

/** What a response looks like, in the terms the expectations below are written in. */
function outcome(request: string, res: Response) {
  const body: unknown = res.body;
  const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
  const envelope = isObject ? (body as Record<string, unknown>) : {};
  const message = envelope.message;
  return {
    request,
    status: res.status,
    envelope: {
      success: envelope.success,
      statusCode: envelope.statusCode,
      error: envelope.error,
      keys: Object.keys(envelope).sort().join(','),
    },
    message: Array.isArray(message) ? message.join(' | ') : message,
    messageIsStringOrList:
      typeof message === 'string' ||
      (Array.isArray(message) && message.every((m) => typeof m === 'string')),
    challenge: res.status === 401 ? res.headers['www-authenticate'] : undefined,
    stackTrace: STACK_TRACE.test(res.text ?? ''),
  };
}

function refusal(request: string, status: number, says: RegExp) {
  return {
    request,
    status,
    envelope: { success: false, statusCode: status, error: REASONS[status], keys: ENVELOPE_KEYS },
    message: expect.stringMatching(says),
    messageIsStringOrList: true,
    challenge: status === 401 ? CHALLENGE : undefined,
    stackTrace: false,
  };
}

/** Sends every call and expects each to be refused with `status` and a message matching `says`. */
async function expectRefused(
  http: TestAgent,
  calls: Call[],
  status: number,
  says: RegExp,
): Promise<void> {
  const seen = [];
  for (const c of calls) seen.push(outcome(label(c), await send(http, c)));
  expect(seen).toEqual(calls.map((c) => refusal(label(c), status, says)));
}

/** The key with its last checksum character changed: right shape, wrong checksum. */
const flipChecksum = (key: string) => key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');

describeEachDatabase('bad input', (ctx) => {
  let owner: TestAccount;
  let other: TestAccount;
  let child: { id: string; key: string };
  let otherChild: { id: string; key: string };

  const http = () => ctx().http;
  const master = (): Record<string, string> => ({ Authorization: basic(owner.masterKey) });
  const credentials = () => ({ email: owner.email, password: owner.password });

  async function createKey(holder: TestAccount, name: string) {
    const headers = { Authorization: basic(holder.masterKey) };
    const created = await http().post('/1.0/keys').set(headers).send({ name }).expect(200);
    const listed = await http().get('/1.0/keys').set(headers).expect(200);
    const id = (listed.body.keys as { id: string; name: string }[]).find(
      (k) => k.name === name,
    )!.id;
    return { id, key: created.body.key as string };
  }

  beforeAll(async () => {
    owner = await account(http());
    other = await account(http());
    child = await createKey(owner, 'child');
    otherChild = await createKey(other, 'other child');
  });

  /** Every route that reads a JSON body, authenticated so that the body is what gets judged. */
  const jsonRoutes = (): Call[] => [
    { method: 'post', path: '/1.0/keys', headers: master() },
    { method: 'put', path: `/1.0/keys/${child.id}`, headers: master() },
    { method: 'patch', path: `/1.0/keys/${child.id}`, headers: master() },
    { method: 'post', path: '/1.0/verify', headers: master() },
    { method: 'post', path: '/api/v1/auth/register' },
    { method: 'post', path: '/api/v1/keys/generate' },
    { method: 'post', path: '/api/v1/keys/getApiKeys' },
    { method: 'post', path: '/api/v1/keys/usageAnalytics' },
  ];

  const withBody = (body: unknown, headers: Record<string, string> = {}) =>
    jsonRoutes().map((c) => ({ ...c, headers: { ...c.headers, ...headers }, body }));

  /** Every route that takes a key name, with the rest of its body valid. */
  const nameRoutes = (name: unknown): Call[] => [
    { method: 'post', path: '/1.0/keys', headers: master(), body: { name } },
    { method: 'put', path: `/1.0/keys/${child.id}`, headers: master(), body: { name } },
    { method: 'patch', path: `/1.0/keys/${child.id}`, headers: master(), body: { name } },
    { method: 'post', path: '/api/v1/keys/generate', body: { ...credentials(), name } },
  ];

  /** Every `/1.0/keys/:key` route for `ref`, each with a body that would be valid for it. */
  const keyRoutes = (ref: string, headers = master()): Call[] => [
    { method: 'get', path: `/1.0/keys/${ref}`, headers },
    { method: 'put', path: `/1.0/keys/${ref}`, headers, body: { name: `renamed ${randomUUID()}` } },
    { method: 'patch', path: `/1.0/keys/${ref}`, headers, body: { isActive: true } },
    { method: 'delete', path: `/1.0/keys/${ref}`, headers },
  ];

  /** Every route that needs the master key, with a body that would be valid for it. */
  const masterRoutes = (headers: Record<string, string>): Call[] => [
    { method: 'get', path: '/1.0/keys', headers },
    { method: 'post', path: '/1.0/keys', headers, body: { name: `new ${randomUUID()}` } },
    ...keyRoutes(child.id, headers),
    { method: 'post', path: '/1.0/verify', headers, body: { key: child.key } },
  ];

  /** Every route that authenticates with a key. */
  const keyedRoutes = (headers: Record<string, string>): Call[] => [
    ...masterRoutes(headers),
    { method: 'get', path: '/1.0/me', headers },
    { method: 'get', path: '/1.0/me/usage', headers },
  ];

  const usageRoutes = (query: string): Call[] => [
    { method: 'get', path: `/1.0/keys/${child.id}?${query}`, headers: master() },
    { method: 'get', path: `/1.0/me/usage?${query}`, headers: master() },
  ];

  describe('request bodies', () => {
    it('refuses malformed JSON with 400 on every JSON route (B01)', async () => {
      await expectRefused(
        http(),
        withBody('{"name": ', { 'Content-Type': 'application/json' }),
        400,
        /the request body is not valid JSON/,
      );
    });

    it.each([
      ['an array', '[1, 2]'],
      ['a string', '"my key"'],
      ['a number', '42'],
      ['null', 'null'],
    ])('refuses %s as the JSON body with 400 and asks for a JSON object (B02)', async (_, text) => {
      await expectRefused(
        http(),
        withBody(text, { 'Content-Type': 'application/json' }),
        400,
        /JSON object/i,
      );
    });

    it.each([
      ['text/plain', 'JSON text', JSON.stringify({ name: 'plain', isActive: false })],
      ['application/x-www-form-urlencoded', 'a form', 'name=form&isActive=false'],
    ])(
      'refuses a %s body (%s) on a JSON route with 415 and asks for application/json (B03)',
      async (type, _, text) => {
        await expectRefused(
          http(),
          withBody(text, { 'Content-Type': type }),
          415,
          /application\/json/i,
        );
      },
    );

    it('refuses a request without a body by naming the missing field (B04)', async () => {
      await expectRefused(
        http(),
        [{ method: 'post', path: '/1.0/keys', headers: master() }],
        400,
        /name must be a string/,
      );
      await expectRefused(
        http(),
        [{ method: 'post', path: '/api/v1/auth/register' }],
        400,
        /email must be a valid email address/,
      );
    });

    it('refuses a body over the 1 MB limit with 413 on every JSON route (B05)', async () => {
      const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 1) });
      await expectRefused(
        http(),
        withBody(big, { 'Content-Type': 'application/json' }),
        413,
        /the request body is too large/,
      );
    });

    it('refuses a gzip body that inflates past the limit with 413 (B06)', async () => {
      const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
      expect(bomb.length).toBeLessThan(100 * 1024);
      await expectRefused(
        http(),
        withBody(bomb, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }),
        413,
        /the request body is too large/,
      );
    });

    it.each(['gzip', 'deflate', 'br'])(
      'refuses a body declared as %s that is not compressed with 400 (B07)',
      async (encoding) => {
        await expectRefused(
          http(),
          withBody(JSON.stringify({ name: 'x' }), {
            'Content-Type': 'application/json',
            'Content-Encoding': encoding,
          }),
          400,
          /decompress|Content-Encoding/i,
        );
      },
    );

    it('refuses an unsupported Content-Encoding with 415 and names it (B08)', async () => {
      await expectRefused(
        http(),
        withBody(JSON.stringify({ name: 'x' }), {
          'Content-Type': 'application/json',
          'Content-Encoding': 'compress-me',
        }),
        415,
        /encoding/i,
      );
    });

    it('refuses an unsupported charset with 415 and names it (B09)', async () => {
      await expectRefused(
        http(),
        withBody(JSON.stringify({ name: 'x' }), {
          'Content-Type': 'application/json; charset=latin1',
        }),
        415,
        /charset/i,
      );
    });

    it('refuses JSON nested 20,000 levels deep with 400 instead of overflowing the stack (B10)', async () => {
      const depth = 20_000;
      const deep = `{"name":"deep","nested":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      await expectRefused(
        http(),
        withBody(deep, { 'Content-Type': 'application/json' }),
        400,
        /nest|deep|depth|should not exist/i,
      );
    });

    it('refuses unknown fields with 400 and names them (B11)', async () => {
      await expectRefused(
        http(),
        [
          { method: 'post', path: '/1.0/keys', headers: master(), body: { name: 'x', admin: 1 } },
          {
            method: 'patch',
            path: `/1.0/keys/${child.id}`,
            headers: master(),
            body: { isMaster: true },
          },
          {
            method: 'post',
            path: '/1.0/verify',
            headers: master(),
            body: { key: child.key, accountId: other.accountId },
          },
          {
            method: 'post',
            path: '/api/v1/auth/register',
            body: { email: `new-${randomUUID()}@example.com`, password: 'long enough', role: 'x' },
          },
          {
            method: 'post',
            path: '/api/v1/keys/getApiKeys',
            body: { ...credentials(), accountId: other.accountId },
          },
        ],
        400,
        /property (admin|isMaster|accountId|role) should not exist/,
      );
    });

    it('ignores __proto__ and constructor keys without polluting any prototype (B12)', async () => {
      const res = await send(http(), {
        method: 'post',
        path: '/api/v1/keys/getApiKeys',
        headers: { 'Content-Type': 'application/json' },
        body: `{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"email":${JSON.stringify(owner.email)},"password":${JSON.stringify(owner.password)}}`,
      });
      expect(res.status).toBeLessThan(500);
      expect(res.text).not.toMatch(STACK_TRACE);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  describe('key names', () => {
    it('refuses a missing name with 400 where a name is required (N01)', async () => {
      await expectRefused(
        http(),
        [
          { method: 'post', path: '/1.0/keys', headers: master(), body: {} },
          { method: 'put', path: `/1.0/keys/${child.id}`, headers: master(), body: {} },
        ],
        400,
        /name must be a string/,
      );
    });

    it.each([
      ['empty', ''],
      ['blank', '   \u00a0 '],
      ['101 characters long', 'x'.repeat(101)],
      ['101 emoji long', '🔑'.repeat(101)],
      ['10,000 characters long', 'y'.repeat(10_000)],
    ])('refuses a name that is %s with 400 (N02)', async (_, name) => {
      await expectRefused(http(), nameRoutes(name), 400, /name must be 1 to 100 characters/);
    });

    it.each([
      ['a number', 42],
      ['a boolean', true],
      ['an array', ['a']],
      ['an object', { first: 'a' }],
    ])('refuses a name that is %s with 400 (N03)', async (_, name) => {
      await expectRefused(http(), nameRoutes(name), 400, /name must be a string/);
    });

    it('refuses a null name with 400 on every route, PATCH included (N04)', async () => {
      await expectRefused(http(), nameRoutes(null), 400, /name must be a string/);
    });

    it('refuses a null isActive with 400 (N05)', async () => {
      await expectRefused(
        http(),
        [
          {
            method: 'patch',
            path: `/1.0/keys/${child.id}`,
            headers: master(),
            body: { isActive: null },
          },
          {
            method: 'patch',
            path: `/1.0/keys/${child.id}`,
            headers: master(),
            body: { isActive: 'no' },
          },
        ],
        400,
        /isActive must be true or false/,
      );
    });

    it('accepts unicode names and returns them unchanged (N06)', async () => {
      const names = [
        'clé 🔑 鍵 ١٢٣',
        'Ünïcødé ✓ 名前',
        '🔑'.repeat(100),
        'נשת \u202ertl',
        'e\u0301 ﬁ',
      ];
      for (const name of names) {
        const created = await http().post('/1.0/keys').set(master()).send({ name }).expect(200);
        expect(created.body.name).toBe(name);
      }
      const renamed = await http()
        .put(`/1.0/keys/${child.id}`)
        .set(master())
        .send({ name: '子 key ✨' })
        .expect(200);
      expect(renamed.body.name).toBe('子 key ✨');
      const generated = await http()
        .post('/api/v1/keys/generate')
        .send({ ...credentials(), name: 'ключ 🗝' })
        .expect(201);
      expect(generated.body.data.name).toBe('ключ 🗝');
      const listed = await http().get('/1.0/keys').set(master()).expect(200);
      const listedNames = (listed.body.keys as { name: string }[]).map((k) => k.name);
      expect(listedNames).toEqual(expect.arrayContaining(['子 key ✨', 'ключ 🗝']));
    });

    it.each([
      ['NUL', '\u0000'],
      ['a line feed', '\n'],
      ['a tab', '\t'],
      ['ESC', '\u001b'],
      ['DEL', '\u007f'],
      ['a C1 control', '\u009f'],
    ])('refuses a name with %s inside it with 400 (N07)', async (_, control) => {
      await expectRefused(
        http(),
        nameRoutes(`bad${control}name`),
        400,
        /name must not contain control characters/,
      );
    });

    it('refuses a name that is not valid Unicode (a lone surrogate) with 400 (N08)', async () => {
      const lone = '"half \\ud800 a pair"';
      await expectRefused(
        http(),
        [
          { method: 'post', path: '/1.0/keys', body: `{"name":${lone}}` },
          { method: 'put', path: `/1.0/keys/${child.id}`, body: `{"name":${lone}}` },
          {
            method: 'post',
            path: '/api/v1/keys/generate',
            body: `{"email":${JSON.stringify(owner.email)},"password":${JSON.stringify(owner.password)},"name":${lone}}`,
          },
        ].map((c) => ({
          ...(c as Call),
          headers: {
            'Content-Type': 'application/json',
            ...(c.path.startsWith('/1.0') ? master() : {}),
          },
        })),
        400,
        /name/,
      );
    });

    it('refuses a duplicate name, also when it differs only by surrounding blanks, with 409 (N09)', async () => {
      await createKey(owner, 'taken');
      await expectRefused(
        http(),
        [
          { method: 'post', path: '/1.0/keys', headers: master(), body: { name: 'taken' } },
          { method: 'post', path: '/1.0/keys', headers: master(), body: { name: '  taken ' } },
          {
            method: 'put',
            path: `/1.0/keys/${child.id}`,
            headers: master(),
            body: { name: 'taken' },
          },
          {
            method: 'post',
            path: '/api/v1/keys/generate',
            body: { ...credentials(), name: 'taken' },
          },
        ],
        409,
        /a key named "taken" already exists/,
      );
    });
  });

  describe('path parameters', () => {
    it.each([
      ['an encoded path traversal', '..%2f..%2fetc%2fpasswd'],
      ['an encoded dot-dot', '%2e%2e'],
      ['an SQL-like string', "'%20OR%201%3D1%20--"],
      [
        'a quoted SQL-like string',
        '%27%20OR%20%271%27%3D%271%27%3B%20DROP%20TABLE%20api_keys%3B--',
      ],
      ['a NUL byte', '%00'],
      ['a uuid that names no key', '00000000-0000-4000-8000-000000000000'],
      ['an almost-uuid', 'ZZZZZZZZ-0000-4000-8000-000000000000'],
      ['a 2,000-character string', 'k'.repeat(2000)],
    ])('answers %s as the key with 404 on every /1.0/keys/:key route (P01)', async (_, ref) => {
      await expectRefused(http(), keyRoutes(ref), 404, /no such API key/);
    });

    it('answers a key with a wrong checksum in the path with 404 (P02)', async () => {
      await expectRefused(http(), keyRoutes(flipChecksum(child.key)), 404, /no such API key/);
    });

    it('answers an unencoded path traversal with 404 for an unknown route (P03)', async () => {
      await expectRefused(
        http(),
        [{ method: 'get', path: '/1.0/keys/../../etc/passwd', headers: master() }],
        404,
        /no route matches GET/,
      );
    });

    it.each([
      ['a truncated UTF-8 sequence', '%E0%A4%A'],
      ['a lone percent sign', '%'],
      ['a bad hex digit', '%G0'],
    ])('refuses %s in the path with 400 (P04)', async (_, ref) => {
      await expectRefused(http(), keyRoutes(ref), 400, /decode|percent|encod/i);
    });

    it('does not echo a key that sits next to bad percent-encoding in the path (P05)', async () => {
      const res = await http().get(`/1.0/keys/${child.key}%`).set(master());
      expect(outcome('GET', res)).toEqual(refusal('GET', 400, /decode|percent|encod/i));
      expect(res.text).not.toContain(child.key.slice(3));
    });
  });

  describe('usage queries', () => {
    it.each([
      ['February 30', 'from=2021-02-30', /February 2021 has 28 days/],
      ['year 99999', 'from=99999-01-01', /the year must be between 1970 and 9999/],
      ['month 13', 'from=2021-13-01', /months go from 01 to 12/],
      ['hour 25', 'from=2021-01-01T25:00', /hours go from 00 to 23/],
      ['minute 60', 'to=2021-01-01T10:60', /minutes go from 00 to 59/],
      ['a word', 'from=yesterday', /use a date like 2021-01-19/],
      ['an empty value', 'from=', /from must not be empty/],
      ['a bad time zone', 'to=2021-01-01T00:00:00%2B25:00', /to is not a valid ISO-8601 date/],
    ])('refuses %s as a date with 400 (Q01)', async (_, query, says) => {
      await expectRefused(http(), usageRoutes(query), 400, says);
    });

    it('refuses from after to with 400 (Q02)', async () => {
      await expectRefused(
        http(),
        usageRoutes('from=2021-02-01&to=2021-01-01'),
        400,
        /from must be before to/,
      );
    });

    it('refuses a from in the future, when to defaults to now, and says so (Q03)', async () => {
      await expectRefused(http(), usageRoutes('from=9999-01-01'), 400, /to defaults to now/);
    });

    it('refuses a range over 92 days with 400 and says how long it is (Q04)', async () => {
      await expectRefused(
        http(),
        usageRoutes('from=2021-01-01&to=2021-06-01'),
        400,
        /at most 92 days; from and to are 151 days apart/,
      );
    });

    it.each([
      ['from', 'from=2021-01-01&from=2021-01-02&to=2021-01-03'],
      ['to', 'from=2021-01-01&to=2021-01-02&to=2021-01-03'],
      ['interval', 'interval=day&interval=hour'],
      ['format', 'format=json&format=csv'],
      ['interval, twice the same', 'interval=day&interval=day'],
    ])('refuses %s given twice with 400 and asks for it once (Q05)', async (_, query) => {
      await expectRefused(http(), usageRoutes(query), 400, /given once|only once|once/);
    });

    it('refuses an unknown interval with 400 and lists the valid ones (Q06)', async () => {
      await expectRefused(
        http(),
        usageRoutes('interval=fortnight'),
        400,
        /interval must be one of minute, hour, day, week, month/,
      );
    });

    it('refuses an unknown format and unknown query parameters with 400 (Q07)', async () => {
      await expectRefused(http(), usageRoutes('format=xml'), 400, /format must be json or csv/);
      await expectRefused(http(), usageRoutes('foo=bar'), 400, /property foo should not exist/);
    });
  });

  describe('verify', () => {
    const verify = (body: unknown): Call => ({
      method: 'post',
      path: '/1.0/verify',
      headers: master(),
      body,
    });

    it.each([
      ['negative', -1, /volume must not be negative/],
      ['fractional', 1.5, /volume must be a whole number of bytes/],
      ['a string', '10', /volume must be a whole number of bytes/],
      ['null', null, /volume must be a whole number of bytes/],
      ['above 1 TiB', 2 ** 40 + 1, /volume must be at most 1099511627776 bytes/],
      ['above 2^53', 2 ** 53, /volume must be at most/],
      ['1e300', 1e300, /volume must be at most/],
    ])('refuses a volume that is %s with 400 (V01)', async (_, volume, says) => {
      await expectRefused(http(), [verify({ key: child.key, volume })], 400, says);
    });

    it('refuses a key that is not a string or is over 512 characters with 400 (V02)', async () => {
      await expectRefused(http(), [verify({ key: 42 }), verify({})], 400, /key must be a string/);
      await expectRefused(
        http(),
        [verify({ key: 'k'.repeat(513) })],
        400,
        /key must be shorter than or equal to 512 characters/,
      );
    });

    it('answers malformed, unknown and other accounts’ keys with valid=false, NOT_FOUND (V03)', async () => {
      for (const key of [
        'km_short',
        flipChecksum(child.key),
        ctx().app.get(KeyVault).create().key,
        otherChild.key,
      ]) {
        const res = await send(http(), verify({ key }));
        expect({ status: res.status, body: res.body }).toEqual({
          status: 200,
          body: { success: true, valid: false, code: 'NOT_FOUND', keyId: null, name: null },
        });
      }
    });

    it('keeps metering every account after absurd but accepted volumes (V04)', async () => {
      // A separate app: the one under test must not be left with usage it cannot write.
      const own = await startApp(ctx().provider);
      try {
        const payer = await account(own.http);
        const bystander = await account(own.http);
        const headers = { Authorization: basic(payer.masterKey) };
        for (let i = 0; i < 2; i++) {
          const res = await own.http
            .post('/1.0/verify')
            .set(headers)
            .send({ key: payer.masterKey, volume: Number.MAX_SAFE_INTEGER });
          expect([200, 400]).toContain(res.status);
        }
        await own.http.get('/1.0/me').set('Authorization', basic(bystander.masterKey)).expect(200);
        const meter = own.app.get(UsageMeter);
        await meter.flush();
        // Written means nothing is left in memory for the key: one poisoned total must not keep
        // another account's usage out of the database.
        expect(meter.unflushed(bystander.masterKeyId)).toBeNull();
        expect(meter.unflushed(payer.masterKeyId)).toBeNull();
        const listed = await own.http.get('/1.0/keys').set(headers).expect(200);
        const volume = (listed.body.keys as { volume: number }[])[0].volume;
        expect(Number.isSafeInteger(volume)).toBe(true);
      } finally {
        await own.close();
      }
    });
  });

  describe('keys and auth headers', () => {
    const everywhere = (headers: Record<string, string>) => keyedRoutes(headers);

    it('refuses a request without a key with 401 and says how to send one (K01)', async () => {
      await expectRefused(http(), everywhere({}), 401, /an API key is required/);
    });

    it('refuses malformed keys and wrong checksums with 401 (K02)', async () => {
      for (const key of ['km_short', 'not a key', flipChecksum(owner.masterKey), 'x'.repeat(49)]) {
        await expectRefused(
          http(),
          everywhere({ 'x-api-key': key }),
          401,
          /the API key is malformed or its checksum is wrong/,
        );
      }
    });

    it('refuses a well-formed key that does not exist with 401 (K03)', async () => {
      const stranger = ctx().app.get(KeyVault).create().key;
      await expectRefused(
        http(),
        everywhere({ Authorization: `Bearer ${stranger}` }),
        401,
        /the API key is not valid/,
      );
    });

    it('refuses empty credentials with 401 (K04)', async () => {
      await expectRefused(
        http(),
        everywhere({ 'x-api-key': '' }),
        401,
        /x-api-key header is empty/,
      );
      await expectRefused(
        http(),
        everywhere({ Authorization: '' }),
        401,
        /use Authorization: Basic base64\(KEY:\) or Authorization: Bearer KEY/,
      );
      await expectRefused(
        http(),
        everywhere({ Authorization: basic('') }),
        401,
        /send the API key as the Basic user name/,
      );
    });

    it('refuses 8 KB auth headers with 401 before any lookup (K05)', async () => {
      const huge = 'a'.repeat(8 * 1024);
      await expectRefused(
        http(),
        everywhere({ Authorization: `Bearer ${huge}` }),
        401,
        /the Authorization header is too long/,
      );
      await expectRefused(
        http(),
        everywhere({ 'x-api-key': huge }),
        401,
        /the x-api-key header is too long/,
      );
    });

    it('refuses unsupported Authorization schemes with 401 (K06)', async () => {
      for (const scheme of ['Digest', 'Token', 'ApiKey', 'Negotiate']) {
        await expectRefused(
          http(),
          masterRoutes({ Authorization: `${scheme} ${owner.masterKey}` }),
          401,
          /unsupported Authorization scheme; use Basic or Bearer/,
        );
      }
      await expectRefused(
        http(),
        masterRoutes({ Authorization: owner.masterKey }),
        401,
        /use Authorization: Basic base64\(KEY:\) or Authorization: Bearer KEY/,
      );
    });

    it('refuses Basic credentials that are not base64 with 401 (K07)', async () => {
      for (const token of ['!!!', 'abc', 'a=b=', '%%%%', 'ZZZ==Z']) {
        await expectRefused(
          http(),
          masterRoutes({ Authorization: `Basic ${token}` }),
          401,
          /the Basic credentials are not valid base64/,
        );
      }
    });

    it('refuses two different keys in Authorization and x-api-key with 401 (K08)', async () => {
      await expectRefused(
        http(),
        masterRoutes({ Authorization: basic(owner.masterKey), 'x-api-key': child.key }),
        401,
        /carry different keys/,
      );
    });

    it('refuses two x-api-key headers with 401 and asks for one (K09)', async () => {
      const res = await http()
        .get('/1.0/keys')
        .set('x-api-key', [owner.masterKey, owner.masterKey] as unknown as string);
      expect(outcome('GET /1.0/keys', res)).toEqual(
        refusal('GET /1.0/keys', 401, /send one x-api-key header/),
      );
    });

    it('refuses a deactivated key with 401 and verify calls it DISABLED (K10)', async () => {
      const paused = await createKey(owner, 'paused');
      await http()
        .patch(`/1.0/keys/${paused.id}`)
        .set(master())
        .send({ isActive: false })
        .expect(200);
      await expectRefused(
        http(),
        [
          { method: 'get', path: '/1.0/me', headers: { 'x-api-key': paused.key } },
          { method: 'get', path: '/1.0/me/usage', headers: { Authorization: basic(paused.key) } },
          { method: 'get', path: '/1.0/keys', headers: { Authorization: `Bearer ${paused.key}` } },
        ],
        401,
        /the API key is deactivated/,
      );
      const verified = await http().post('/1.0/verify').set(master()).send({ key: paused.key });
      expect(verified.body).toMatchObject({ valid: false, code: 'DISABLED' });
    });

    it('refuses a deleted key with 401 and answers its id and key with 404 (K11)', async () => {
      const gone = await createKey(owner, 'gone');
      await http().delete(`/1.0/keys/${gone.id}`).set(master()).expect(200);
      await expectRefused(
        http(),
        [
          { method: 'get', path: '/1.0/me', headers: { 'x-api-key': gone.key } },
          { method: 'get', path: '/1.0/me/usage', headers: { 'x-api-key': gone.key } },
        ],
        401,
        /the API key is not valid/,
      );
      await expectRefused(
        http(),
        [...keyRoutes(gone.id), ...keyRoutes(gone.key)],
        404,
        /no such API key/,
      );
    });

    it('answers another account’s keys and ids with 404 on every route that takes one (K12)', async () => {
      await expectRefused(
        http(),
        [
          ...keyRoutes(otherChild.key),
          ...keyRoutes(otherChild.id),
          ...keyRoutes(other.masterKeyId),
          ...keyRoutes(other.masterKey),
          {
            method: 'post',
            path: '/api/v1/keys/usageAnalytics',
            body: { ...credentials(), apiKeyId: otherChild.id },
          },
        ],
        404,
        /no such API key/,
      );
      // Nothing was changed on the other account's side.
      const theirs = await http()
        .get('/1.0/keys')
        .set('Authorization', basic(other.masterKey))
        .expect(200);
      expect(theirs.body.keys).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: otherChild.id, name: 'other child', isActive: true }),
        ]),
      );
    });

    it('refuses a valid non-master key on every master route with 403 (K13)', async () => {
      const styles: Record<string, string>[] = [
        { Authorization: basic(child.key) },
        { Authorization: `Bearer ${child.key}` },
        { 'x-api-key': child.key },
      ];
      for (const headers of styles) {
        await expectRefused(
          http(),
          masterRoutes(headers),
          403,
          /this route needs the account master key/,
        );
      }
    });

    it('refuses to deactivate or delete the master key with 400 (K14)', async () => {
      await expectRefused(
        http(),
        [
          {
            method: 'patch',
            path: `/1.0/keys/${owner.masterKeyId}`,
            headers: master(),
            body: { isActive: false },
          },
        ],
        400,
        /the master key cannot be deactivated/,
      );
      await expectRefused(
        http(),
        [{ method: 'delete', path: `/1.0/keys/${owner.masterKey}`, headers: master() }],
        400,
        /the master key cannot be deleted/,
      );
    });
  });

  describe('accounts and passwords', () => {
    const register = (body: unknown): Call => ({
      method: 'post',
      path: '/api/v1/auth/register',
      body,
    });

    it.each([
      ['no at sign', 'nope'],
      ['an empty string', ''],
      ['no domain', 'someone@'],
      ['no local part', '@example.com'],
      ['spaces inside', 'some one@example.com'],
      ['a number', 42],
      ['null', null],
      ['over 254 characters', `${'e'.repeat(250)}@example.com`],
    ])('refuses an email with %s with 400 (A01)', async (_, email) => {
      await expectRefused(
        http(),
        [
          register({ email, password: 'long enough password' }),
          {
            method: 'post',
            path: '/api/v1/keys/getApiKeys',
            body: { email, password: 'x'.repeat(9) },
          },
        ],
        400,
        /email must be a valid email address|email must be shorter/,
      );
    });

    it('refuses an email that is not valid Unicode with 400 (A02)', async () => {
      await expectRefused(
        http(),
        [
          {
            method: 'post',
            path: '/api/v1/auth/register',
            headers: { 'Content-Type': 'application/json' },
            body: '{"email":"half\\ud800@example.com","password":"long enough password"}',
          },
        ],
        400,
        /email/,
      );
    });

    it.each([
      ['7 characters', 'x'.repeat(7), /password must be longer than or equal to 8 characters/],
      ['257 characters', 'x'.repeat(257), /password must be shorter than or equal to 256/],
      ['a number', 12345678, /password must be a string/],
      ['missing', undefined, /password must be a string/],
    ])('refuses a password of %s with 400 (A03)', async (_, password, says) => {
      await expectRefused(
        http(),
        [register({ email: `new-${randomUUID()}@example.com`, password })],
        400,
        says,
      );
    });

    it('refuses a duplicate account, whatever the case or blanks of the email, with 409 (A04)', async () => {
      await expectRefused(
        http(),
        [
          register({ email: owner.email, password: 'another password' }),
          register({ email: owner.email.toUpperCase(), password: 'another password' }),
          register({ email: `  ${owner.email} `, password: 'another password' }),
        ],
        409,
        /an account with this email already exists/,
      );
    });

    it('refuses a wrong password and an unknown email alike with 401 (A05)', async () => {
      await expectRefused(
        http(),
        [
          {
            method: 'post',
            path: '/api/v1/keys/getApiKeys',
            body: { email: owner.email, password: 'wrong password' },
          },
          {
            method: 'post',
            path: '/api/v1/keys/usageAnalytics',
            body: { email: `nobody-${randomUUID()}@example.com`, password: 'wrong password' },
          },
        ],
        401,
        /wrong email or password/,
      );
    });

    it('refuses an apiKeyId that is not a uuid with 400 (A06)', async () => {
      await expectRefused(
        http(),
        [
          {
            method: 'post',
            path: '/api/v1/keys/usageAnalytics',
            body: { ...credentials(), apiKeyId: child.key },
          },
        ],
        400,
        /apiKeyId must be a key id \(uuid\)/,
      );
    });
  });

  describe('routes', () => {
    it('answers unknown routes and wrong methods with 404 and the route it looked for (R01)', async () => {
      await expectRefused(
        http(),
        [
          { method: 'get', path: '/nope' },
          { method: 'post', path: '/1.0/nope', body: { name: 'x' } },
          { method: 'get', path: '/api/v1/keys/getApiKeys' },
          { method: 'delete', path: '/1.0/keys', headers: master() },
          { method: 'get', path: '/api/v2/keys' },
        ],
        404,
        /no route matches (GET|POST|DELETE) \//,
      );
    });

    it('masks a key sent to a mistyped route instead of echoing it (R02)', async () => {
      const res = await http().get(`/1.0/key/${child.key}`).set(master());
      expect(outcome('GET', res)).toEqual(
        refusal('GET', 404, /no route matches GET \/1\.0\/key\//),
      );
      expect(res.text).not.toContain(child.key.slice(3));
    });
  });
});
