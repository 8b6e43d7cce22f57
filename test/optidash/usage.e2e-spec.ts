import { UsageMeter } from '../../src/usage/usage-meter.service';
import { describeEachDatabase } from '../helpers/app';
import { account, TestAccount } from '../helpers/factory';
import { auth, createKey, CreatedKey, injectUsage, Point, sum } from '../helpers/optidash-fixtures';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();
const dayStart = (ms: number) => Math.floor(ms / DAY) * DAY;

/** Checks that the buckets are consecutive and ascending, `step` ms apart. */
function expectConsecutive(points: Point[], step: number): void {
  const gaps: string[] = [];
  for (let i = 1; i < points.length; i++) {
    const gap = Date.parse(points[i].bucket) - Date.parse(points[i - 1].bucket);
    if (gap !== step) gaps.push(`${points[i - 1].bucket} -> ${points[i].bucket}`);
  }
  expect(gaps).toEqual([]);
}

/** A key's usage over time: `GET /1.0/keys/:key` and its from, to, interval and format. */
describeEachDatabase('the Optidash-compatible API', (ctx) => {
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
});
