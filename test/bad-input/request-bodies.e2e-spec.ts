import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describeEachDatabase } from '../helpers/app';
import { badInputFixture, Call, expectRefused, send, STACK_TRACE } from '../helpers/bad-input';

/** Section "Request bodies" of docs/bad-input.md (B01–B12): bodies every JSON route refuses. */
describeEachDatabase('bad input', (ctx) => {
  const given = badInputFixture(ctx);
  const { http, master, credentials } = given;

  /** Every route that reads a JSON body, authenticated so that the body is what gets judged. */
  const jsonRoutes = (): Call[] => [
    { method: 'post', path: '/1.0/keys', headers: master() },
    { method: 'put', path: `/1.0/keys/${given.child.id}`, headers: master() },
    { method: 'patch', path: `/1.0/keys/${given.child.id}`, headers: master() },
    { method: 'post', path: '/1.0/verify', headers: master() },
    { method: 'post', path: '/api/v1/auth/register' },
    { method: 'post', path: '/api/v1/keys/generate' },
    { method: 'post', path: '/api/v1/keys/getApiKeys' },
    { method: 'post', path: '/api/v1/keys/usageAnalytics' },
  ];

  const withBody = (body: unknown, headers: Record<string, string> = {}) =>
    jsonRoutes().map((c) => ({ ...c, headers: { ...c.headers, ...headers }, body }));

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
            path: `/1.0/keys/${given.child.id}`,
            headers: master(),
            body: { isMaster: true },
          },
          {
            method: 'post',
            path: '/1.0/verify',
            headers: master(),
            body: { key: given.child.key, accountId: given.other.accountId },
          },
          {
            method: 'post',
            path: '/api/v1/auth/register',
            body: { email: `new-${randomUUID()}@example.com`, password: 'long enough', role: 'x' },
          },
          {
            method: 'post',
            path: '/api/v1/keys/getApiKeys',
            body: { ...credentials(), accountId: given.other.accountId },
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
        body: `{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"email":${JSON.stringify(given.owner.email)},"password":${JSON.stringify(given.owner.password)}}`,
      });
      expect(res.status).toBeLessThan(500);
      expect(res.text).not.toMatch(STACK_TRACE);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
    });
  });
});
