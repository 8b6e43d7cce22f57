import { describeEachDatabase } from '../helpers/app';
import {
  badInputFixture,
  expectRefused,
  flipChecksum,
  outcome,
  refusal,
} from '../helpers/bad-input';

/**
 * Sections "Path parameters" (P01–P05) and "Routes" (R01–R02) of docs/bad-input.md: bad key
 * references in `/1.0/keys/:key`, unknown routes and wrong methods.
 */
describeEachDatabase('bad input', (ctx) => {
  const given = badInputFixture(ctx);
  const { http, master, keyRoutes } = given;

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
      await expectRefused(http(), keyRoutes(flipChecksum(given.child.key)), 404, /no such API key/);
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
      const res = await http().get(`/1.0/keys/${given.child.key}%`).set(master());
      expect(outcome('GET', res)).toEqual(refusal('GET', 400, /decode|percent|encod/i));
      expect(res.text).not.toContain(given.child.key.slice(3));
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
      const res = await http().get(`/1.0/key/${given.child.key}`).set(master());
      expect(outcome('GET', res)).toEqual(
        refusal('GET', 404, /no route matches GET \/1\.0\/key\//),
      );
      expect(res.text).not.toContain(given.child.key.slice(3));
    });
  });
});
