import fc from 'fast-check';
import { pointsOf, UsagePoint } from '../../test/helpers/usage-points';
import { BucketTotals, countBuckets } from './buckets';
import { BUCKETS_PER_TURN, usageBody, usageBodyYielding } from './usage-response';
import { INTERVALS, parseUsageRange, UsageRange } from './usage-range';

const MINUTE = 60_000;
const DAY = 1440 * MINUTE;

/** What the responses were before usageBody: JSON.stringify of the points, and joined lines. */
const jsonOf = (points: UsagePoint[]) => JSON.stringify({ success: true, results: points });
const csvOf = (points: UsagePoint[]) =>
  ['bucket,volume,count', ...points.map((p) => `${p.bucket},${p.volume},${p.count}`), ''].join(
    '\n',
  );

const arbitraryRange: fc.Arbitrary<UsageRange> = fc
  .record({
    from: fc.integer({ min: 0, max: Date.UTC(9999, 0, 1) }),
    span: fc.integer({ min: 0, max: 92 * DAY }),
    interval: fc.constantFrom(...INTERVALS),
  })
  .map(({ from, span, interval }) => ({
    from: new Date(from),
    to: new Date(Math.min(from + span, Date.UTC(9999, 11, 31, 23, 59, 59, 999))),
    interval,
  }))
  .filter((r) => countBuckets(r) <= 5000);

describe(usageBody.name, () => {
  it('writes JSON and CSV byte for byte as JSON.stringify and joined lines do, for any series', () => {
    fc.assert(
      fc.property(
        arbitraryRange,
        fc.array(
          fc.record({
            offset: fc.nat({ max: 93 * DAY }),
            count: fc.oneof(fc.nat({ max: 1000 }), fc.nat({ max: Number.MAX_SAFE_INTEGER })),
            volume: fc.oneof(fc.nat({ max: 10 }), fc.double({ min: 0, max: 1e300, noNaN: true })),
          }),
          { maxLength: 30 },
        ),
        (r, rows) => {
          const totals = new BucketTotals(r);
          for (const row of rows) {
            totals.add(r.from.getTime() - DAY + row.offset, row.count, row.volume);
          }
          const points = pointsOf(totals);
          expect(usageBody(totals).toString('latin1')).toBe(jsonOf(points));
          expect(usageBody(totals, 'csv').toString('latin1')).toBe(csvOf(points));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes counts at each edge of the digit and 31-bit boundaries as String() does', () => {
    const edges = [0, 1, 9, 10, 99, 100, 999_999_999, 1e9, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 1e10];
    const r = parseUsageRange(
      { from: '2021-01-19T00:00:00Z', to: '2021-01-19T00:20:00Z', interval: 'minute' },
      new Date('2021-01-20T00:00:00Z'),
    );
    const totals = new BucketTotals(r);
    edges.forEach((n, i) => totals.add(totals.startOf(i), n, edges[edges.length - 1 - i]));
    const points = pointsOf(totals);
    expect(points.slice(0, edges.length).map((p) => p.count)).toEqual(edges);
    expect(usageBody(totals).toString('latin1')).toBe(jsonOf(points));
    expect(usageBody(totals, 'csv').toString('latin1')).toBe(csvOf(points));
  });

  it('writes a range of one empty bucket with zeros', () => {
    const at = new Date('2021-01-19T10:00:00Z');
    const totals = new BucketTotals({ from: at, to: at, interval: 'day' });
    expect(usageBody(totals).toString()).toBe(
      '{"success":true,"results":[{"bucket":"2021-01-19T00:00:00.000Z","volume":0,"count":0}]}',
    );
    expect(usageBody(totals, 'csv').toString()).toBe(
      'bucket,volume,count\n2021-01-19T00:00:00.000Z,0,0\n',
    );
  });

  it('writes the 8 MB of a 90-day minute series exactly as JSON.stringify would', () => {
    // Its speed is measured by the benchmark (B3), not by a timed test on a shared machine.
    const r = parseUsageRange({ interval: 'minute' }, new Date('2021-04-20T10:11:12Z'));
    const totals = new BucketTotals(r);
    for (let i = 0; i < totals.length; i++) totals.add(totals.startOf(i), 1 + (i % 10), i % 9999);
    const body = usageBody(totals);
    expect(body.length).toBeGreaterThan(7_000_000);
    expect(body.toString('latin1')).toBe(jsonOf(pointsOf(totals)));
  });

  it('writes the same bytes in slices, letting the event loop turn between them', async () => {
    const r = parseUsageRange({ interval: 'minute' }, new Date('2021-04-20T10:11:12Z'));
    const totals = new BucketTotals(r);
    for (let i = 0; i < totals.length; i++) totals.add(totals.startOf(i), 1 + (i % 7), i % 4099);
    let turns = 0;
    const counting = setInterval(() => turns++, 0);
    const [json, csv] = [await usageBodyYielding(totals), await usageBodyYielding(totals, 'csv')];
    clearInterval(counting);

    expect(json!.equals(usageBody(totals))).toBe(true);
    expect(csv!.equals(usageBody(totals, 'csv'))).toBe(true);
    // A timer could fire between slices: the writing did not hold the loop throughout.
    expect(totals.length).toBeGreaterThan(4 * BUCKETS_PER_TURN);
    expect(turns).toBeGreaterThan(0);
  });

  it('stops writing once the client has gone', async () => {
    const r = parseUsageRange({ interval: 'minute' }, new Date('2021-04-20T10:11:12Z'));
    let slices = 0;
    const body = await usageBodyYielding(new BucketTotals(r), 'csv', () => ++slices > 2);

    expect(body).toBeNull();
    expect(slices).toBe(3);
  });
});
