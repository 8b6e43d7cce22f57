import { randomUUID } from 'node:crypto';
import { KeysService } from '../../src/keys/keys.service';
import { describeEachDatabase } from '../helpers/app';
import { account } from '../helpers/factory';
import {
  auth,
  call,
  createKey,
  expectEnvelope,
  keyRoutes,
  messageOf,
  Method,
} from '../helpers/optidash-fixtures';

/**
 * What the `/1.0/keys` routes refuse: bad queries and key references, other accounts' keys,
 * keys that are not the master key, no key at all, and mistyped URLs that carry a key.
 */
describeEachDatabase('the Optidash-compatible API', (ctx) => {
  describe('errors', () => {
    const badQueries: [string, RegExp][] = [
      ['from=2021-01-28T00:00:00&to=2021-01-19T00:00:00', /from must be before to/],
      ['from=2030-01-01', /from must be before to \(to defaults to now/],
      ['from=2021-01-01T00:00:00Z&to=2021-04-03T00:00:01Z', /at most 92 days/],
      ['from=2021-01-01&to=2021-06-01', /at most 92 days; from and to are 151 days apart/],
      ['from=2021-02-30', /February 2021 has 28 days/],
      ['to=2021-02-29T00:00:00', /February 2021 has 28 days/],
      ['to=99999-01-01', /the year must be between 1970 and 9999/],
      ['from=1969-12-31', /the year must be between 1970 and 9999/],
      ['interval=fortnight', /interval must be one of minute, hour, day, week, month/],
      ['interval=', /interval must be one of minute, hour, day, week, month/],
      ['interval=HOUR', /interval must be one of minute, hour, day, week, month/],
      ['interval=day&interval=hour', /interval must be given once/],
      ['from=a&from=b', /from must be given once/],
      ['to=2021-01-01&to=2021-01-02', /to must be given once/],
      ['color=blue', /property color should not exist/],
      ['from[gte]=2021-01-01', /should not exist/],
      ['from=yesterday', /from is not a valid ISO-8601 date: yesterday .*2021-01-19/],
      ['from=', /from must not be empty/],
      ['from=2021-01-19T24:00:00', /hours go from 00 to 23/],
      ['from=2021-01-19T23:60:00', /minutes go from 00 to 59/],
      ['to=2021-13-01', /months go from 01 to 12/],
      [`from=${encodeURIComponent('2021-01-19T00:00:00+25:00')}`, /offset/],
      ['from=1611014400000', /from is not a valid ISO-8601 date/],
      ['format=xml', /format must be json or csv/],
      [`from=${'9'.repeat(5000)}`, /from is not a valid ISO-8601 date/],
    ];

    it('refuses bad from, to, interval and format and unknown or repeated parameters with 400 and says what to fix', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'queried');
      for (const [query, message] of badQueries) {
        const res = await http.get(`/1.0/keys/${key.key}?${query}`).set(auth(owner.masterKey));
        expect({ query, status: res.status }).toEqual({ query, status: 400 });
        expectEnvelope(res.body, 400);
        expect(messageOf(res.body)).toMatch(message);
        expect(res.text).not.toMatch(/\.(ts|js):\d+/);
        expect(res.text.length).toBeLessThan(1000);
      }
    });

    it('answers odd key references with 404, never 500', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const refs = [
        'not-a-key',
        'km_short',
        owner.masterKey.slice(0, -1) + (owner.masterKey.endsWith('A') ? 'B' : 'A'),
        owner.masterKey.toLowerCase(),
        randomUUID(),
        '00000000-0000-0000-0000-000000000000',
        "'; DROP TABLE api_keys; --",
        'x'.repeat(2000),
        '%00',
      ];
      for (const ref of refs) {
        for (const [method, path, body] of keyRoutes(encodeURIComponent(ref))) {
          const res = await call(http, method, path, auth(owner.masterKey), body);
          expect({ ref, method, status: res.status }).toEqual({ ref, method, status: 404 });
          expectEnvelope(res.body, 404);
        }
      }
      await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
    });

    it('answers a badly percent-encoded key reference with a 4xx envelope and no stack trace', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const res = await http.get('/1.0/keys/%E0%A4%A').set(auth(owner.masterKey));
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expectEnvelope(res.body, res.status);
      expect(res.text).not.toMatch(/\.(ts|js):\d+/);
    });
  });

  describe('tenant isolation and access', () => {
    it("answers another account's key with the same 404 as a key that does not exist, by key and by id", async () => {
      const { http, app } = ctx();
      const a = await account(http);
      const b = await account(http);
      const target = await createKey(http, a.masterKey, 'private to A');
      const ghostKey = app.get(KeysService).newKey('never stored').key;
      const ghostId = randomUUID();

      const pairs: [string, string][] = [
        [target.key, ghostKey],
        [target.id, ghostId],
        [a.masterKey, ghostKey],
        [a.masterKeyId, ghostId],
      ];
      for (const [foreign, ghost] of pairs) {
        const foreignRoutes = keyRoutes(foreign);
        const ghostRoutes = keyRoutes(ghost);
        for (let i = 0; i < foreignRoutes.length; i++) {
          const [method, path, body] = foreignRoutes[i];
          const res = await call(http, method, path, auth(b.masterKey), body);
          const [, ghostPath] = ghostRoutes[i];
          const missing = await call(http, method, ghostPath, auth(b.masterKey), body);
          expect({ method, status: res.status }).toEqual({ method, status: 404 });
          expectEnvelope(res.body, 404);
          expect(res.body).toEqual(missing.body);
          expect(res.text).not.toContain(foreign);
        }
        const usage = await http
          .get(`/1.0/keys/${foreign}?interval=hour&from=2021-01-19T00:00:00&to=2021-01-20`)
          .set(auth(b.masterKey))
          .expect(404);
        expect(usage.body).toEqual({
          success: false,
          statusCode: 404,
          error: 'Not Found',
          message: 'no such API key',
        });
      }

      const bList = await http.get('/1.0/keys').set(auth(b.masterKey)).expect(200);
      expect(bList.body.keys.map((k: { id: string }) => k.id)).toEqual([b.masterKeyId]);
      const aList = await http.get('/1.0/keys').set(auth(a.masterKey)).expect(200);
      expect(aList.body.keys).toEqual([
        expect.objectContaining({ id: a.masterKeyId, name: 'master', isActive: true }),
        expect.objectContaining({ id: target.id, name: 'private to A', isActive: true }),
      ]);
      await http.get('/1.0/me').set(auth(target.key)).expect(200);
    });

    it('answers 403 to a key that is not the master key on every /1.0/keys route, and changes nothing', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const client = await createKey(http, owner.masterKey, 'client app');
      const routes: [Method, string, object | undefined][] = [
        ['get', '/1.0/keys', undefined],
        ['post', '/1.0/keys', { name: 'made by a client' }],
        ...[client.key, client.id, owner.masterKey, owner.masterKeyId].flatMap(keyRoutes),
      ];
      for (const headers of [auth(client.key), { 'x-api-key': client.key }]) {
        for (const [method, path, body] of routes) {
          const res = await call(http, method, path, headers, body);
          expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
          expectEnvelope(res.body, 403);
          expect(res.text).not.toContain(client.key);
        }
      }
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys).toEqual([
        expect.objectContaining({ name: 'master', isActive: true }),
        expect.objectContaining({ name: 'client app', isActive: true }),
      ]);
    });

    it('answers 401 with a Basic challenge on every /1.0/keys route when no key is sent', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const routes: [Method, string, object | undefined][] = [
        ['get', '/1.0/keys', undefined],
        ['post', '/1.0/keys', { name: 'anonymous' }],
        ...[owner.masterKey, owner.masterKeyId].flatMap(keyRoutes),
      ];
      for (const [method, path, body] of routes) {
        const res = await call(http, method, path, {}, body);
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 });
        expect(res.headers['www-authenticate']).toBe('Basic realm="keymeter"');
        expectEnvelope(res.body, 401);
        expect(res.text).not.toContain(owner.masterKey);
      }
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys).toHaveLength(1);
    });
  });

  it('does not echo a key that appears in a mistyped URL', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const key = await createKey(http, owner.masterKey, 'typo victim');
    const secret = key.key.slice(3, 43);
    const paths: [Method, string][] = [
      ['get', `/1.0/kes/${key.key}`],
      ['get', `/1.0/kes/${key.key}?interval=hour`],
      ['get', `/1.0/keys/${key.key}/usage`],
      ['get', `/1.0/kes?key=${key.key}`],
      ['get', `/10/keys/${key.key}`],
      ['put', `/1.0/key/${key.key}`],
      ['post', `/1.0/keys/${key.key}`],
      ['delete', `/1.0/keys/x/${key.key}`],
      ['get', `/1.0/kes/prefix-${key.key}-suffix`],
    ];
    for (const [method, path] of paths) {
      const res = await call(http, method, path, auth(owner.masterKey));
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expectEnvelope(res.body, 404);
      expect({ path, text: res.text }).toEqual({ path, text: expect.not.stringContaining(secret) });
      for (const part of [secret.slice(0, 16), secret.slice(12, 28), secret.slice(24)]) {
        expect(res.text).not.toContain(part);
      }
    }
  });
});
