import { randomUUID } from 'node:crypto';
import type TestAgent from 'supertest/lib/agent';
import { KeyVault } from '../src/common/crypto/key-vault.service';
import { KeyAccessRepository } from '../src/access/key-access.repository';
import { KeysService } from '../src/keys/keys.service';
import { UsageMeter } from '../src/usage/usage-meter.service';
import { UsageRepository } from '../src/usage/usage.repository';
import { describeEachDatabase } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';
import {
  createKey,
  CreatedKey,
  expectEnvelope,
  injectUsage,
  KEY_SHAPE,
  messageOf,
  Point,
  sum,
} from './helpers/optidash-fixtures';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();
const dayStart = (ms: number) => Math.floor(ms / DAY) * DAY;

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

function call(
  http: TestAgent,
  method: Method,
  path: string,
  headers: Record<string, string>,
  body?: object,
) {
  const req = http[method](path).set(headers);
  return body === undefined ? req : req.send(body);
}

/** Every `/1.0/keys/:key` route, with a body that would be valid for it. */
const keyRoutes = (ref: string): [Method, string, object | undefined][] => [
  ['get', `/1.0/keys/${ref}`, undefined],
  ['put', `/1.0/keys/${ref}`, { name: 'taken over' }],
  ['patch', `/1.0/keys/${ref}`, { isActive: false }],
  ['delete', `/1.0/keys/${ref}`, undefined],
];

/** A promise and the function that settles it. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

/** Checks that the buckets are consecutive and ascending, `step` ms apart. */
function expectConsecutive(points: Point[], step: number): void {
  const gaps: string[] = [];
  for (let i = 1; i < points.length; i++) {
    const gap = Date.parse(points[i].bucket) - Date.parse(points[i - 1].bucket);
    if (gap !== step) gaps.push(`${points[i - 1].bucket} -> ${points[i].bucket}`);
  }
  expect(gaps).toEqual([]);
}

describeEachDatabase('the Optidash-compatible API', (ctx) => {
  const auth = (key: string) => ({ Authorization: basic(key) });

  describe('POST /1.0/keys', () => {
    it('creates a key as in the document and answers 200 with exactly success, name and key', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const res = await http
        .post('/1.0/keys')
        .set(auth(owner.masterKey))
        .set('Content-Type', 'application/json')
        .send('{\n"name": "my awesome key"\n}')
        .expect(200);
      expect(res.body).toEqual({
        success: true,
        name: 'my awesome key',
        key: expect.stringMatching(KEY_SHAPE),
      });
      expect(Object.keys(res.body)).toEqual(['success', 'name', 'key']);
      expect(res.body.key).not.toBe(owner.masterKey);

      const me = await http.get('/1.0/me').set(auth(res.body.key)).expect(200);
      expect(me.body.key).toMatchObject({ name: 'my awesome key', isMaster: false });
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys.map((k: { name: string }) => k.name)).toEqual([
        'master',
        'my awesome key',
      ]);
    });

    it('refuses a second key with the same name with 409, also when it differs only by surrounding spaces', async () => {
      const { http } = ctx();
      const owner = await account(http);
      await createKey(http, owner.masterKey, 'my awesome key');
      for (const name of ['my awesome key', '  my awesome key\t', 'master']) {
        const res = await http
          .post('/1.0/keys')
          .set(auth(owner.masterKey))
          .send({ name })
          .expect(409);
        expectEnvelope(res.body, 409);
        expect(messageOf(res.body)).toMatch(/already exists/);
      }
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys).toHaveLength(2);
    });

    it('lets two accounts use the same key name', async () => {
      const { http } = ctx();
      const first = await account(http);
      const second = await account(http);
      await createKey(http, first.masterKey, 'shared name');
      await createKey(http, second.masterKey, 'shared name');
    });

    it('trims names and accepts names of 1 and of 100 characters', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const cases: [string, string][] = [
        ['  padded name \t', 'padded name'],
        ['x', 'x'],
        ['n'.repeat(100), 'n'.repeat(100)],
        [`   ${'m'.repeat(100)}   `, 'm'.repeat(100)],
        ['Ünïcödé name 🔑', 'Ünïcödé name 🔑'],
      ];
      for (const [sent, stored] of cases) {
        const res = await http
          .post('/1.0/keys')
          .set(auth(owner.masterKey))
          .send({ name: sent })
          .expect(200);
        expect(res.body.name).toBe(stored);
      }
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys.map((k: { name: string }) => k.name)).toEqual([
        'master',
        ...cases.map(([, stored]) => stored),
      ]);
    });

    it('refuses control characters, non-strings, empty names, 101 characters and unknown fields with 400 and says what to fix', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const cases: [unknown, RegExp][] = [
        [{ name: 'line\nbreak' }, /name must not contain control characters/],
        [{ name: 'bell\u0007' + 'x' }, /name must not contain control characters/],
        [{ name: 'nul\u0000byte' }, /name must not contain control characters/],
        [{ name: 'del\u007fchar' }, /name must not contain control characters/],
        [{ name: 42 }, /name must be a string/],
        [{ name: true }, /name must be a string/],
        [{ name: null }, /name must be a string/],
        [{ name: ['a'] }, /name must be a string/],
        [{ name: { first: 'a' } }, /name must be a string/],
        [{}, /name must be a string/],
        [{ name: '' }, /name must be 1 to 100 characters long/],
        [{ name: '    ' }, /name must be 1 to 100 characters long/],
        [{ name: 'n'.repeat(101) }, /name must be 1 to 100 characters long/],
        [{ name: 'ok', isMaster: true }, /property isMaster should not exist/],
        [{ name: 'ok', key: 'km_mine' }, /property key should not exist/],
        [['my awesome key'], /./],
      ];
      for (const [body, message] of cases) {
        const res = await http
          .post('/1.0/keys')
          .set(auth(owner.masterKey))
          .send(body as object);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expectEnvelope(res.body, 400);
        expect(messageOf(res.body)).toMatch(message);
      }
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys).toHaveLength(1);
    });

    it('refuses a body that is not JSON with 400', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const res = await http
        .post('/1.0/keys')
        .set(auth(owner.masterKey))
        .set('Content-Type', 'application/json')
        .send('{"name": "my awesome key"')
        .expect(400);
      expectEnvelope(res.body, 400);
      expect(res.body.message).toBe('the request body is not valid JSON');
    });
  });

  describe('PUT /1.0/keys/:key', () => {
    it('renames a key as in the document and answers with exactly success, the new name and the key from the path', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const created = await createKey(http, owner.masterKey, 'my awesome key');
      const res = await http
        .put(`/1.0/keys/${created.key}`)
        .set(auth(owner.masterKey))
        .set('Content-Type', 'application/json')
        .send('{\n"name":"better name"\n}')
        .expect(200);
      expect(res.body).toEqual({ success: true, name: 'better name', key: created.key });
      expect(Object.keys(res.body)).toEqual(['success', 'name', 'key']);

      const me = await http.get('/1.0/me').set(auth(created.key)).expect(200);
      expect(me.body.key.name).toBe('better name');
    });

    it('renames a key addressed by its id and answers with the stored key', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const created = await createKey(http, owner.masterKey, 'by id');
      const res = await http
        .put(`/1.0/keys/${created.id}`)
        .set(auth(owner.masterKey))
        .send({ name: '  renamed by id  ' })
        .expect(200);
      expect(res.body).toEqual({ success: true, name: 'renamed by id', key: created.key });
      expect(Object.keys(res.body)).toEqual(['success', 'name', 'key']);

      const upper = await http
        .put(`/1.0/keys/${created.id.toUpperCase()}`)
        .set(auth(owner.masterKey))
        .send({ name: 'renamed again' })
        .expect(200);
      expect(upper.body).toEqual({ success: true, name: 'renamed again', key: created.key });
    });

    it('renames the master key and answers with the master key', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const res = await http
        .put(`/1.0/keys/${owner.masterKeyId}`)
        .set(auth(owner.masterKey))
        .send({ name: 'primary' })
        .expect(200);
      expect(res.body).toEqual({ success: true, name: 'primary', key: owner.masterKey });
      await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
    });

    it("refuses a name another key has with 409 and accepts the key's own name", async () => {
      const { http } = ctx();
      const owner = await account(http);
      const first = await createKey(http, owner.masterKey, 'first');
      await createKey(http, owner.masterKey, 'second');
      for (const name of ['second', ' second ', 'master']) {
        const res = await http
          .put(`/1.0/keys/${first.key}`)
          .set(auth(owner.masterKey))
          .send({ name })
          .expect(409);
        expectEnvelope(res.body, 409);
        expect(messageOf(res.body)).toMatch(/already exists/);
      }
      const same = await http
        .put(`/1.0/keys/${first.key}`)
        .set(auth(owner.masterKey))
        .send({ name: 'first' })
        .expect(200);
      expect(same.body).toEqual({ success: true, name: 'first', key: first.key });
    });

    it('validates the new name as POST does', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const created = await createKey(http, owner.masterKey, 'valid');
      const cases: [unknown, RegExp][] = [
        [{}, /name must be a string/],
        [{ name: 7 }, /name must be a string/],
        [{ name: ' ' }, /name must be 1 to 100 characters long/],
        [{ name: 'x'.repeat(101) }, /name must be 1 to 100 characters long/],
        [{ name: 'tab\tinside' }, /name must not contain control characters/],
        [{ name: 'ok', isActive: false }, /property isActive should not exist/],
      ];
      for (const [body, message] of cases) {
        const res = await http
          .put(`/1.0/keys/${created.key}`)
          .set(auth(owner.masterKey))
          .send(body as object);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expectEnvelope(res.body, 400);
        expect(messageOf(res.body)).toMatch(message);
      }
      const me = await http.get('/1.0/me').set(auth(created.key)).expect(200);
      expect(me.body.key).toMatchObject({ name: 'valid', isActive: true });
    });
  });

  describe('GET /1.0/keys/:key', () => {
    it('defaults to the last 90 days by day: 91 ascending, zero-filled buckets from the day of now-90d to today', async () => {
      const { http, app } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'default range');
      const now = Date.now();
      await injectUsage(app, key.id, [
        [iso(now - 89 * DAY), 700],
        [iso(now - 95 * DAY), 999],
      ]);

      const before = Date.now();
      const res = await http.get(`/1.0/keys/${key.key}`).set(auth(owner.masterKey)).expect(200);
      const after = Date.now();
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.text.startsWith('{"success":true,"results":[{"bucket":"')).toBe(true);
      const results = res.body.results as Point[];
      expect(Object.keys(res.body)).toEqual(['success', 'results']);
      expect(results).toHaveLength(91);
      const ends = [before, after].map((t) => [iso(dayStart(t - 90 * DAY)), iso(dayStart(t))]);
      expect(ends).toContainEqual([results[0].bucket, results[90].bucket]);
      expectConsecutive(results, DAY);
      for (const point of results) {
        expect(Object.keys(point)).toEqual(['bucket', 'volume', 'count']);
        expect(point.bucket).toMatch(/^\d{4}-\d{2}-\d{2}T00:00:00\.000Z$/);
      }
      const used = results.filter((p) => p.count > 0);
      expect(used).toEqual([{ bucket: iso(dayStart(now - 89 * DAY)), volume: 700, count: 1 }]);

      const byId = await http.get(`/1.0/keys/${key.id}`).set(auth(owner.masterKey)).expect(200);
      expect(byId.body.results.filter((p: Point) => p.count > 0)).toEqual(used);
    });

    describe("the document's hourly example", () => {
      const query = 'interval=hour&from=2021-01-19T00:00:00&to=2021-01-28T23:59:59';
      let owner: TestAccount;
      let key: CreatedKey;

      beforeAll(async () => {
        const { http, app } = ctx();
        owner = await account(http);
        key = await createKey(http, owner.masterKey, 'USER_API_KEY');
        await injectUsage(app, key.id, [
          ['2021-01-19T00:10:00Z', 51253],
          ['2021-01-19T02:00:00Z', 100000],
          ['2021-01-19T02:30:15.250Z', 100000],
          ['2021-01-19T02:59:59.999Z', 52849],
        ]);
      });

      it('answers exactly 240 hourly buckets that start as in the document', async () => {
        const { http } = ctx();
        const res = await http
          .get(`/1.0/keys/${key.key}?${query}`)
          .set(auth(owner.masterKey))
          .expect(200);
        expect(res.text.startsWith('{"success":true,"results":[')).toBe(true);
        expect(res.text).toContain(
          '{"bucket":"2021-01-19T00:00:00.000Z","volume":51253,"count":1},' +
            '{"bucket":"2021-01-19T01:00:00.000Z","volume":0,"count":0},' +
            '{"bucket":"2021-01-19T02:00:00.000Z","volume":252849,"count":3},',
        );
        const results = res.body.results as Point[];
        expect(results).toHaveLength(240);
        expect(results.slice(0, 3)).toEqual([
          { bucket: '2021-01-19T00:00:00.000Z', volume: 51253, count: 1 },
          { bucket: '2021-01-19T01:00:00.000Z', volume: 0, count: 0 },
          { bucket: '2021-01-19T02:00:00.000Z', volume: 252849, count: 3 },
        ]);
        expect(results[239]).toEqual({ bucket: '2021-01-28T23:00:00.000Z', volume: 0, count: 0 });
        expectConsecutive(results, HOUR);
        expect(results.slice(3).every((p) => p.count === 0 && p.volume === 0)).toBe(true);
        for (const point of results) {
          expect(Object.keys(point)).toEqual(['bucket', 'volume', 'count']);
        }
      });

      it('answers the same for the key id in the path and for Bearer and x-api-key credentials', async () => {
        const { http } = ctx();
        const reference = await http
          .get(`/1.0/keys/${key.key}?${query}`)
          .set(auth(owner.masterKey))
          .expect(200);
        for (const [path, headers] of [
          [`/1.0/keys/${key.id}?${query}`, auth(owner.masterKey)],
          [`/1.0/keys/${key.key}?${query}`, { Authorization: `Bearer ${owner.masterKey}` }],
          [`/1.0/keys/${key.key}?${query}`, { 'x-api-key': owner.masterKey }],
        ] as const) {
          const res = await http.get(path).set(headers).expect(200);
          expect(res.text).toBe(reference.text);
        }
      });

      it('sums the same range into 10 daily buckets', async () => {
        const { http } = ctx();
        const res = await http
          .get(`/1.0/keys/${key.key}?from=2021-01-19T00:00:00&to=2021-01-28T23:59:59`)
          .set(auth(owner.masterKey))
          .expect(200);
        const results = res.body.results as Point[];
        expect(results).toHaveLength(10);
        expect(results[0]).toEqual({
          bucket: '2021-01-19T00:00:00.000Z',
          volume: 51253 + 252849,
          count: 4,
        });
        expect(results[9].bucket).toBe('2021-01-28T00:00:00.000Z');
        expect(sum(results.slice(1), 'count')).toBe(0);
        expectConsecutive(results, DAY);
      });

      it('reads a time with a zone offset as that instant and one without a zone as UTC', async () => {
        const { http } = ctx();
        const res = await http
          .get(
            `/1.0/keys/${key.key}?interval=hour` +
              `&from=${encodeURIComponent('2021-01-19T03:00:00+03:00')}&to=2021-01-19T02:00`,
          )
          .set(auth(owner.masterKey))
          .expect(200);
        expect(res.body.results).toEqual([
          { bucket: '2021-01-19T00:00:00.000Z', volume: 51253, count: 1 },
          { bucket: '2021-01-19T01:00:00.000Z', volume: 0, count: 0 },
          { bucket: '2021-01-19T02:00:00.000Z', volume: 252849, count: 3 },
        ]);
      });

      it('answers format=csv as text/csv with a bucket,volume,count header', async () => {
        const { http } = ctx();
        const res = await http
          .get(`/1.0/keys/${key.key}?${query}&format=csv`)
          .set(auth(owner.masterKey))
          .expect(200);
        expect(res.headers['content-type']).toMatch(/^text\/csv/);
        const lines = res.text.trimEnd().split('\n');
        expect(lines).toHaveLength(241);
        expect(lines.slice(0, 4)).toEqual([
          'bucket,volume,count',
          '2021-01-19T00:00:00.000Z,51253,1',
          '2021-01-19T01:00:00.000Z,0,0',
          '2021-01-19T02:00:00.000Z,252849,3',
        ]);
        expect(lines[240]).toBe('2021-01-28T23:00:00.000Z,0,0');
      });
    });

    it('aligns weekly buckets to ISO weeks starting on Monday and sums each week', async () => {
      const { http, app } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'weekly');
      await injectUsage(app, key.id, [
        ['2021-01-07T00:00:00Z', 1], // Thursday of the week of Monday 4 January
        ['2021-01-10T23:59:59Z', 2], // Sunday of that week
        ['2021-01-11T00:00:00Z', 4], // Monday 11 January
        ['2021-01-31T23:59:00Z', 8], // Sunday of the week of Monday 25 January
        ['2021-02-01T00:00:00Z', 16], // Monday 1 February
        ['2021-02-10T11:00:00Z', 32], // Wednesday 10 February, before `to`
      ]);
      const res = await http
        .get(`/1.0/keys/${key.key}?interval=week&from=2021-01-06T12:00:00&to=2021-02-10T12:00:00`)
        .set(auth(owner.masterKey))
        .expect(200);
      expect(res.body.results).toEqual([
        { bucket: '2021-01-04T00:00:00.000Z', volume: 3, count: 2 },
        { bucket: '2021-01-11T00:00:00.000Z', volume: 4, count: 1 },
        { bucket: '2021-01-18T00:00:00.000Z', volume: 0, count: 0 },
        { bucket: '2021-01-25T00:00:00.000Z', volume: 8, count: 1 },
        { bucket: '2021-02-01T00:00:00.000Z', volume: 16, count: 1 },
        { bucket: '2021-02-08T00:00:00.000Z', volume: 32, count: 1 },
      ]);
    });

    it('starts the ISO week that holds New Year on the Monday of the year before', async () => {
      const { http, app } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'new year');
      await injectUsage(app, key.id, [
        ['2020-12-31T10:00:00Z', 5], // Thursday; its week began on Monday 28 December 2020
        ['2021-01-03T23:00:00Z', 6], // Sunday, the same week
        ['2021-01-04T00:00:00Z', 7], // Monday, the next week
      ]);
      const res = await http
        .get(`/1.0/keys/${key.key}?interval=week&from=2020-12-31&to=2021-01-04`)
        .set(auth(owner.masterKey))
        .expect(200);
      expect(res.body.results).toEqual([
        { bucket: '2020-12-28T00:00:00.000Z', volume: 11, count: 2 },
        { bucket: '2021-01-04T00:00:00.000Z', volume: 7, count: 1 },
      ]);
    });

    it('aligns monthly buckets to calendar months, leap February included', async () => {
      const { http, app } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'monthly');
      await injectUsage(app, key.id, [
        ['2021-01-15T00:00:00Z', 1],
        ['2021-01-31T23:59:59Z', 2],
        ['2021-02-01T00:00:00Z', 4],
        ['2021-02-28T23:59:59Z', 8],
        ['2021-03-01T00:00:00Z', 16],
        ['2021-03-09T23:00:00Z', 32],
        ['2024-02-29T23:59:00Z', 64],
        ['2024-03-01T00:00:00Z', 128],
      ]);
      const res = await http
        .get(`/1.0/keys/${key.key}?interval=month&from=2021-01-15T00:00:00&to=2021-03-10T00:00:00`)
        .set(auth(owner.masterKey))
        .expect(200);
      expect(res.body.results).toEqual([
        { bucket: '2021-01-01T00:00:00.000Z', volume: 3, count: 2 },
        { bucket: '2021-02-01T00:00:00.000Z', volume: 12, count: 2 },
        { bucket: '2021-03-01T00:00:00.000Z', volume: 48, count: 2 },
      ]);
      const leap = await http
        .get(`/1.0/keys/${key.key}?interval=month&from=2024-02-29&to=2024-03-01T00:00:00Z`)
        .set(auth(owner.masterKey))
        .expect(200);
      expect(leap.body.results).toEqual([
        { bucket: '2024-02-01T00:00:00.000Z', volume: 64, count: 1 },
        { bucket: '2024-03-01T00:00:00.000Z', volume: 128, count: 1 },
      ]);
    });

    it('answers a 90-day minute query with 129,601 buckets whose sums equal the injected usage, quickly', async () => {
      const { http, app } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'minutes');
      const inside: [string, number][] = [
        ['2021-01-01T00:00:30Z', 5],
        ['2021-02-14T12:34:10Z', 10],
        ['2021-02-14T12:34:50Z', 20],
        ['2021-03-28T01:00:00Z', 40],
        ['2021-04-01T00:00:00Z', 80],
      ];
      await injectUsage(app, key.id, [
        ...inside,
        ['2020-12-31T23:59:59Z', 1000],
        ['2021-04-01T00:01:00Z', 2000],
      ]);
      const res = await http
        .get(
          `/1.0/keys/${key.key}?interval=minute&from=2021-01-01T00:00:00Z&to=2021-04-01T00:00:00Z`,
        )
        .set(auth(owner.masterKey))
        .expect(200);
      const results = res.body.results as Point[];
      expect(results).toHaveLength(90 * 24 * 60 + 1);
      expect(results[0]).toEqual({ bucket: '2021-01-01T00:00:00.000Z', volume: 5, count: 1 });
      expect(results[results.length - 1]).toEqual({
        bucket: '2021-04-01T00:00:00.000Z',
        volume: 80,
        count: 1,
      });
      const valentine = (Date.parse('2021-02-14T12:34:00Z') - Date.parse('2021-01-01')) / MINUTE;
      expect(results[valentine]).toEqual({
        bucket: '2021-02-14T12:34:00.000Z',
        volume: 30,
        count: 2,
      });
      expect(sum(results, 'count')).toBe(inside.length);
      expect(sum(results, 'volume')).toBe(inside.reduce((total, [, v]) => total + v, 0));
      expectConsecutive(results, MINUTE);
    });

    it('accepts a range of exactly 92 days', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const res = await http
        .get(`/1.0/keys/${owner.masterKey}?from=2021-01-01T00:00:00Z&to=2021-04-03T00:00:00Z`)
        .set(auth(owner.masterKey))
        .expect(200);
      expect(res.body.results).toHaveLength(93);
    });

    it('answers ranges up to the year 9999 on every interval without a 500', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const cases: [string, string[]][] = [
        ['from=9999-12-30&to=9999-12-31T23:59:59Z', ['9999-12-30', '9999-12-31']],
        ['interval=week&from=9999-12-31&to=9999-12-31T23:59:59Z', ['9999-12-27']],
        ['interval=month&from=9999-12-31&to=9999-12-31T23:59:59Z', ['9999-12-01']],
        ['interval=day&from=6100-01-01&to=6100-01-01T12:00:00Z', ['6100-01-01']],
      ];
      for (const [query, days] of cases) {
        const res = await http
          .get(`/1.0/keys/${owner.masterKey}?${query}`)
          .set(auth(owner.masterKey));
        expect({ query, status: res.status }).toEqual({ query, status: 200 });
        expect(res.body.results).toEqual(
          days.map((day) => ({ bucket: `${day}T00:00:00.000Z`, volume: 0, count: 0 })),
        );
      }
    });

    it('includes usage that is counted but not yet written, and counts it once after it is written', async () => {
      const { http, app } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'unflushed');
      const meter = app.get(UsageMeter);
      const path = `/1.0/keys/${key.key}?interval=hour&from=2021-03-03T00:00:00&to=2021-03-03T23:59:59`;
      const expected = { bucket: '2021-03-03T03:00:00.000Z', volume: 1300, count: 2 };

      const flush = jest.spyOn(meter, 'flush').mockResolvedValue(undefined);
      try {
        meter.record(key.id, 1234, Date.parse('2021-03-03T03:03:03Z'));
        meter.record(key.id, 66, Date.parse('2021-03-03T03:59:00Z'));
        const res = await http.get(path).set(auth(owner.masterKey)).expect(200);
        expect(res.body.results[3]).toEqual(expected);
        expect(sum(res.body.results, 'count')).toBe(2);
        const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
        expect(list.body.keys.find((k: { id: string }) => k.id === key.id)).toMatchObject({
          usageCount: 2,
          volume: 1300,
          lastUsedAt: '2021-03-03T03:59:00.000Z',
        });
        expect(meter.unflushed(key.id)).not.toBeNull();
      } finally {
        flush.mockRestore();
      }

      await injectUsage(app, key.id, []);
      const written = await http.get(path).set(auth(owner.masterKey)).expect(200);
      expect(written.body.results[3]).toEqual(expected);
      expect(sum(written.body.results, 'count')).toBe(2);
    });

    it('counts a request made with the key itself in the current minute', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'live');
      await http.get('/1.0/me').set(auth(key.key)).expect(200);
      await http.get('/1.0/me').set({ 'x-api-key': key.key }).expect(200);
      const res = await http
        .get(`/1.0/keys/${key.key}?interval=minute&from=${iso(Date.now() - 5 * MINUTE)}`)
        .set(auth(owner.masterKey))
        .expect(200);
      expect(sum(res.body.results, 'count')).toBe(2);
      expect(sum(res.body.results, 'volume')).toBe(0);
    });
  });

  describe('GET, PATCH and DELETE beyond the document', () => {
    it("lists the account's keys in creation order with their usage totals", async () => {
      const { http, app } = ctx();
      const owner = await account(http);
      const body = { name: 'listed' };
      const created = await http
        .post('/1.0/keys')
        .set(auth(owner.masterKey))
        .send(body)
        .expect(200);
      const listed = (await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200)).body
        .keys as { id: string }[];
      await injectUsage(app, listed[1].id, [
        ['2021-05-01T10:00:00Z', 10],
        ['2021-05-02T10:00:00Z', 20],
        ['2021-05-01T09:00:00Z', 30],
      ]);

      const res = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(Object.keys(res.body)).toEqual(['success', 'keys']);
      expect(res.body.success).toBe(true);
      expect(res.body.keys).toEqual([
        {
          id: owner.masterKeyId,
          name: 'master',
          key: owner.masterKey,
          isMaster: true,
          isActive: true,
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
          lastUsedAt: expect.any(String),
          usageCount: 3,
          volume: Buffer.byteLength(JSON.stringify(body)),
        },
        {
          id: listed[1].id,
          name: 'listed',
          key: created.body.key,
          isMaster: false,
          isActive: true,
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
          lastUsedAt: '2021-05-02T10:00:00.000Z',
          usageCount: 3,
          volume: 60,
        },
      ]);
    });

    it('deactivates a key so that its very next request is 401, and activates it again', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'toggled');
      await http.get('/1.0/me').set(auth(key.key)).expect(200);

      const off = await http
        .patch(`/1.0/keys/${key.key}`)
        .set(auth(owner.masterKey))
        .send({ isActive: false })
        .expect(200);
      expect(off.body).toEqual({
        success: true,
        apiKey: expect.objectContaining({ id: key.id, name: 'toggled', isActive: false }),
      });
      for (const headers of [
        auth(key.key),
        { Authorization: `Bearer ${key.key}` },
        { 'x-api-key': key.key },
      ]) {
        const res = await http.get('/1.0/me').set(headers).expect(401);
        expectEnvelope(res.body, 401);
        expect(res.headers['www-authenticate']).toBe('Basic realm="keymeter"');
      }
      const usage = await http.get(`/1.0/keys/${key.key}`).set(auth(owner.masterKey)).expect(200);
      expect(usage.body.results).toHaveLength(91);

      const on = await http
        .patch(`/1.0/keys/${key.id}`)
        .set(auth(owner.masterKey))
        .send({ isActive: true })
        .expect(200);
      expect(on.body.apiKey).toMatchObject({ id: key.id, isActive: true, key: key.key });
      await http.get('/1.0/me').set(auth(key.key)).expect(200);
    });

    it('renames with PATCH and refuses bad fields with 400 and a taken name with 409', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'patchable');
      const renamed = await http
        .patch(`/1.0/keys/${key.key}`)
        .set(auth(owner.masterKey))
        .send({ name: ' patched ' })
        .expect(200);
      expect(renamed.body.apiKey).toMatchObject({ name: 'patched', isActive: true });

      const cases: [unknown, RegExp][] = [
        [{ isActive: 'no' }, /isActive must be true or false/],
        [{ isActive: 0 }, /isActive must be true or false/],
        [{ name: 12 }, /name must be a string/],
        [{ name: '' }, /name must be 1 to 100 characters long/],
        [{ isMaster: true }, /property isMaster should not exist/],
      ];
      for (const [body, message] of cases) {
        const res = await http
          .patch(`/1.0/keys/${key.key}`)
          .set(auth(owner.masterKey))
          .send(body as object);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expectEnvelope(res.body, 400);
        expect(messageOf(res.body)).toMatch(message);
      }
      const taken = await http
        .patch(`/1.0/keys/${key.key}`)
        .set(auth(owner.masterKey))
        .send({ name: 'master' })
        .expect(409);
      expectEnvelope(taken.body, 409);
    });

    it('refuses to deactivate the master key with 400, by key and by id', async () => {
      const { http } = ctx();
      const owner = await account(http);
      for (const ref of [owner.masterKey, owner.masterKeyId]) {
        const res = await http
          .patch(`/1.0/keys/${ref}`)
          .set(auth(owner.masterKey))
          .send({ isActive: false })
          .expect(400);
        expectEnvelope(res.body, 400);
        expect(messageOf(res.body)).toMatch(/master key cannot be deactivated/);
        expect(JSON.stringify(res.body)).not.toContain(owner.masterKey);
      }
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys[0]).toMatchObject({ isMaster: true, isActive: true });
    });

    it('deletes a key: afterwards every route answers 404 for it, by key and by id, and it authenticates nothing', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const byKey = await createKey(http, owner.masterKey, 'doomed');
      const byId = await createKey(http, owner.masterKey, 'doomed too');
      await http.get('/1.0/me').set(auth(byKey.key)).expect(200);
      await http.get('/1.0/me').set(auth(byId.key)).expect(200);

      for (const [ref, key] of [
        [byKey.key, byKey],
        [byId.id, byId],
      ] as const) {
        const gone = await http.delete(`/1.0/keys/${ref}`).set(auth(owner.masterKey)).expect(200);
        expect(gone.body).toEqual({ success: true });

        const used = await http.get('/1.0/me').set(auth(key.key)).expect(401);
        expectEnvelope(used.body, 401);
        expect(used.headers['www-authenticate']).toBe('Basic realm="keymeter"');

        for (const after of [key.key, key.id]) {
          for (const [method, path, body] of keyRoutes(after)) {
            const res = await call(http, method, path, auth(owner.masterKey), body);
            expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
            expectEnvelope(res.body, 404);
            expect(res.body.message).toBe('no such API key');
          }
        }
      }
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys.map((k: { name: string }) => k.name)).toEqual(['master']);
      await createKey(http, owner.masterKey, 'doomed');
    });

    it('refuses to delete the master key with 400, by key and by id', async () => {
      const { http } = ctx();
      const owner = await account(http);
      for (const ref of [owner.masterKey, owner.masterKeyId]) {
        const res = await http.delete(`/1.0/keys/${ref}`).set(auth(owner.masterKey)).expect(400);
        expectEnvelope(res.body, 400);
        expect(messageOf(res.body)).toMatch(/master key cannot be deleted/);
      }
      await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
    });
  });

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

  describe('consistency while other work is in flight', () => {
    const changes: [string, Method, object | undefined][] = [
      ['deactivated', 'patch', { isActive: false }],
      ['deleted', 'delete', undefined],
    ];
    for (const [what, method, body] of changes) {
      it(`refuses a key ${what} while a lookup of it was in flight on the very next request`, async () => {
        const { http, app } = ctx();
        const owner = await account(http);
        const key = await createKey(http, owner.masterKey, `raced ${what}`);
        const hash = app.get(KeyVault).hash(key.key);
        const repository = app.get(KeyAccessRepository);
        const findByHash = repository.findByHash.bind(repository);
        const loaded = signal();
        const release = signal();
        let held = false;
        // The guard's cache miss reads the key (still active), then answers only after the change.
        const spy = jest.spyOn(repository, 'findByHash').mockImplementation(async (h) => {
          const row = await findByHash(h);
          if (h === hash && !held) {
            held = true;
            loaded.fire();
            await release.promise;
          }
          return row;
        });
        try {
          const inFlight = http
            .get('/1.0/me')
            .set(auth(key.key))
            .then((res) => res);
          await loaded.promise;
          await call(http, method, `/1.0/keys/${key.id}`, auth(owner.masterKey), body).expect(200);
          release.fire();
          await inFlight;
          const next = await http.get('/1.0/me').set(auth(key.key));
          expect(next.status).toBe(401);
          expectEnvelope(next.body, 401);
        } finally {
          release.fire();
          spy.mockRestore();
        }
      });
    }

    it('counts usage once when it is read while the flush that writes it is committing', async () => {
      const { http, app } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'read during flush');
      const repository = app.get(UsageRepository);
      const addUsage = repository.addUsage.bind(repository);
      const committed = signal();
      const release = signal();
      // Widens the window between the database committing and the meter learning that it did.
      const spy = jest.spyOn(repository, 'addUsage').mockImplementation(async (batch) => {
        await addUsage(batch);
        if (batch.has(key.id)) {
          committed.fire();
          await release.promise;
        }
      });
      try {
        app.get(UsageMeter).record(key.id, 500, Date.parse('2021-06-01T10:00:00Z'));
        const writing = injectUsage(app, key.id, []);
        await committed.promise;
        // Both reads arrive while the batch is committed but the meter still holds it; they
        // must wait for the flush to finish rather than count the batch twice.
        const reading = Promise.all([
          http
            .get(`/1.0/keys/${key.key}?from=2021-06-01&to=2021-06-01T23:59:59`)
            .set(auth(owner.masterKey))
            .then((res) => res),
          http
            .get('/1.0/keys')
            .set(auth(owner.masterKey))
            .then((res) => res),
        ]);
        await new Promise((resolve) => setTimeout(resolve, 100));
        release.fire();
        await writing;
        const [usage, list] = await reading;
        expect(usage.status).toBe(200);
        expect(list.status).toBe(200);
        expect(usage.body.results).toEqual([
          { bucket: '2021-06-01T00:00:00.000Z', volume: 500, count: 1 },
        ]);
        expect(list.body.keys[1]).toMatchObject({ id: key.id, usageCount: 1, volume: 500 });
      } finally {
        release.fire();
        spy.mockRestore();
      }
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
