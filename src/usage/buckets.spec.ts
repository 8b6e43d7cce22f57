import fc from 'fast-check';
import { BucketRow, zeroFill } from '../../test/helpers/usage-points';
import {
  BucketTotals,
  bucketStart,
  bucketStarts,
  countBuckets,
  minuteRange,
  nextBucketStart,
  STORED_UNIT_MINUTES,
  StoredUnit,
  storedUnit,
} from './buckets';
import { INTERVALS, Interval, MAX_RANGE_DAYS, parseUsageRange, UsageRange } from './usage-range';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();
const range = (from: string, to: string, interval: Interval): UsageRange => ({
  from: new Date(from),
  to: new Date(to),
  interval,
});

/** Latest instant whose 92-day range stays within 9999-12-31. */
const LATEST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Spans kept small for fine intervals so each property run stays cheap. */
const MAX_SPAN_MS: Record<Interval, number> = {
  minute: 2 * DAY,
  hour: 30 * DAY,
  day: MAX_RANGE_DAYS * DAY,
  week: MAX_RANGE_DAYS * DAY,
  month: MAX_RANGE_DAYS * DAY,
};

const arbitraryRange: fc.Arbitrary<UsageRange> = fc.constantFrom(...INTERVALS).chain((interval) =>
  fc
    .record({
      fromMs: fc.integer({ min: 0, max: LATEST_MS - MAX_RANGE_DAYS * DAY }),
      spanMs: fc.integer({ min: 0, max: MAX_SPAN_MS[interval] }),
    })
    .map(({ fromMs, spanMs }) => ({
      from: new Date(fromMs),
      to: new Date(fromMs + spanMs),
      interval,
    })),
);

describe(bucketStart.name, () => {
  it.each<[string, Interval, string]>([
    ['2021-01-19T13:45:10.123Z', 'minute', '2021-01-19T13:45:00.000Z'],
    ['2021-01-19T13:45:10.123Z', 'hour', '2021-01-19T13:00:00.000Z'],
    ['2021-01-19T13:45:10.123Z', 'day', '2021-01-19T00:00:00.000Z'],
    ['2021-01-19T13:45:10.123Z', 'week', '2021-01-18T00:00:00.000Z'],
    ['2021-01-19T13:45:10.123Z', 'month', '2021-01-01T00:00:00.000Z'],
    ['2021-01-03T23:59:59.999Z', 'week', '2020-12-28T00:00:00.000Z'],
    ['2021-01-04T00:00:00.000Z', 'week', '2021-01-04T00:00:00.000Z'],
    ['1970-01-01T00:00:00.000Z', 'week', '1969-12-29T00:00:00.000Z'],
    ['2024-02-29T23:59:59.999Z', 'month', '2024-02-01T00:00:00.000Z'],
    ['2024-03-01T00:00:00.000Z', 'month', '2024-03-01T00:00:00.000Z'],
    ['2020-12-31T23:59:59.999Z', 'month', '2020-12-01T00:00:00.000Z'],
  ])('puts %s in the %s bucket starting %s', (instant, interval, expected) => {
    expect(iso(bucketStart(at(instant), interval))).toBe(expected);
  });
});

describe(nextBucketStart.name, () => {
  it.each<[string, Interval, string]>([
    ['2021-01-19T13:45:00.000Z', 'minute', '2021-01-19T13:46:00.000Z'],
    ['2021-01-19T23:00:00.000Z', 'hour', '2021-01-20T00:00:00.000Z'],
    ['2021-02-28T00:00:00.000Z', 'day', '2021-03-01T00:00:00.000Z'],
    ['2020-12-28T00:00:00.000Z', 'week', '2021-01-04T00:00:00.000Z'],
    ['2024-01-01T00:00:00.000Z', 'month', '2024-02-01T00:00:00.000Z'],
    ['2024-02-01T00:00:00.000Z', 'month', '2024-03-01T00:00:00.000Z'],
    ['2020-12-01T00:00:00.000Z', 'month', '2021-01-01T00:00:00.000Z'],
  ])('follows the %s %s bucket with %s', (start, interval, expected) => {
    expect(iso(nextBucketStart(at(start), interval))).toBe(expected);
  });
});

describe(bucketStarts.name, () => {
  it('gives the documented 240 hourly buckets for 2021-01-19T00:00:00 to 2021-01-28T23:59:59', () => {
    const parsed = parseUsageRange(
      { interval: 'hour', from: '2021-01-19T00:00:00', to: '2021-01-28T23:59:59' },
      new Date('2021-02-01'),
    );
    const starts = bucketStarts(parsed);
    expect(starts).toHaveLength(240);
    expect(countBuckets(parsed)).toBe(240);
    expect(iso(starts[0])).toBe('2021-01-19T00:00:00.000Z');
    expect(iso(starts[1])).toBe('2021-01-19T01:00:00.000Z');
    expect(iso(starts[239])).toBe('2021-01-28T23:00:00.000Z');
  });

  it('gives 90 days and one minute of minute buckets for the default range', () => {
    const parsed = parseUsageRange({ interval: 'minute' }, new Date('2021-04-20T10:11:12Z'));
    expect(bucketStarts(parsed)).toHaveLength(90 * 1440 + 1);
  });

  it('splits weeks on Monday: Sunday 2021-01-03 and Monday 2021-01-04 are in different weeks', () => {
    expect(bucketStarts(range('2021-01-03', '2021-01-04', 'week')).map(iso)).toEqual([
      '2020-12-28T00:00:00.000Z',
      '2021-01-04T00:00:00.000Z',
    ]);
  });

  it('keeps a Monday-to-Sunday range in one week', () => {
    expect(countBuckets(range('2021-01-04', '2021-01-10T23:59:59.999Z', 'week'))).toBe(1);
  });

  it('gives calendar months across a leap February and the turn of the year', () => {
    expect(bucketStarts(range('2023-12-15', '2024-03-01', 'month')).map(iso)).toEqual([
      '2023-12-01T00:00:00.000Z',
      '2024-01-01T00:00:00.000Z',
      '2024-02-01T00:00:00.000Z',
      '2024-03-01T00:00:00.000Z',
    ]);
  });

  it('gives 29 day buckets for February of a leap year and 28 otherwise', () => {
    expect(countBuckets(range('2024-02-01', '2024-02-29T23:59:59Z', 'day'))).toBe(29);
    expect(countBuckets(range('2023-02-01', '2023-02-28T23:59:59Z', 'day'))).toBe(28);
  });

  it('gives one bucket when from and to share it', () => {
    expect(bucketStarts(range('2021-01-19T10:00:00Z', '2021-01-19T10:59:59Z', 'hour'))).toEqual([
      at('2021-01-19T10:00:00Z'),
    ]);
  });

  describe('for any valid range', () => {
    it('has as many starts as countBuckets says, aligned, ascending and consecutive', () => {
      fc.assert(
        fc.property(arbitraryRange, (r) => {
          const starts = bucketStarts(r);
          expect(starts).toHaveLength(countBuckets(r));
          // one expect per range, not per bucket: thousands of expect calls would dominate the run
          const misaligned = starts.filter((start) => bucketStart(start, r.interval) !== start);
          const gaps = starts.filter(
            (start, i) =>
              i > 0 &&
              (start <= starts[i - 1] || nextBucketStart(starts[i - 1], r.interval) !== start),
          );
          expect({ misaligned, gaps }).toEqual({ misaligned: [], gaps: [] });
        }),
        { numRuns: 200 },
      );
    });

    it('starts with the bucket holding from and ends with the bucket holding to', () => {
      fc.assert(
        fc.property(arbitraryRange, (r) => {
          const starts = bucketStarts(r);
          const first = starts[0];
          const last = starts[starts.length - 1];
          expect(first).toBeLessThanOrEqual(r.from.getTime());
          expect(nextBucketStart(first, r.interval)).toBeGreaterThan(r.from.getTime());
          expect(last).toBeLessThanOrEqual(r.to.getTime());
          expect(nextBucketStart(last, r.interval)).toBeGreaterThan(r.to.getTime());
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe(zeroFill.name, () => {
  const hourly = range('2021-01-19T00:00:00Z', '2021-01-19T03:30:00Z', 'hour');

  it('gives every bucket in order, zeros where nothing was used', () => {
    const rows: BucketRow[] = [{ start: at('2021-01-19T02:00:00Z'), count: 3, volume: 252849 }];
    expect(zeroFill(hourly, rows)).toEqual([
      { bucket: '2021-01-19T00:00:00.000Z', volume: 0, count: 0 },
      { bucket: '2021-01-19T01:00:00.000Z', volume: 0, count: 0 },
      { bucket: '2021-01-19T02:00:00.000Z', volume: 252849, count: 3 },
      { bucket: '2021-01-19T03:00:00.000Z', volume: 0, count: 0 },
    ]);
  });

  it('orders the keys of each point bucket, volume, count as the document does', () => {
    const [point] = zeroFill(hourly, []);
    expect(JSON.stringify(point)).toBe(
      '{"bucket":"2021-01-19T00:00:00.000Z","volume":0,"count":0}',
    );
  });

  it('sums unsorted, repeated and unaligned rows into the bucket holding each', () => {
    const rows: BucketRow[] = [
      { start: at('2021-01-19T03:59:00Z'), count: 1, volume: 10 },
      { start: at('2021-01-19T00:00:00Z'), count: 2, volume: 20 },
      { start: at('2021-01-19T03:00:00Z'), count: 4, volume: 40 },
      { start: at('2021-01-19T00:30:00Z'), count: 8, volume: 80 },
    ];
    expect(zeroFill(hourly, rows).map((p) => [p.count, p.volume])).toEqual([
      [10, 100],
      [0, 0],
      [0, 0],
      [5, 50],
    ]);
  });

  it('counts rows in the partial first and last buckets and ignores rows outside every bucket', () => {
    const r = range('2021-01-19T00:30:00Z', '2021-01-19T01:15:00Z', 'hour');
    const rows: BucketRow[] = [
      { start: at('2021-01-18T23:59:00Z'), count: 100, volume: 100 },
      { start: at('2021-01-19T00:00:00Z'), count: 1, volume: 1 },
      { start: at('2021-01-19T01:59:00Z'), count: 2, volume: 2 },
      { start: at('2021-01-19T02:00:00Z'), count: 100, volume: 100 },
    ];
    expect(zeroFill(r, rows).map((p) => p.count)).toEqual([1, 2]);
  });

  it('folds day rows into calendar months', () => {
    const r = range('2024-01-15', '2024-03-10', 'month');
    const rows: BucketRow[] = [
      { start: at('2024-02-29'), count: 1, volume: 5 },
      { start: at('2024-01-01'), count: 2, volume: 6 },
      { start: at('2024-02-01'), count: 4, volume: 7 },
      { start: at('2024-03-31'), count: 8, volume: 8 },
      { start: at('2024-04-01'), count: 99, volume: 99 },
      { start: at('2023-12-31'), count: 99, volume: 99 },
    ];
    expect(zeroFill(r, rows)).toEqual([
      { bucket: '2024-01-01T00:00:00.000Z', volume: 6, count: 2 },
      { bucket: '2024-02-01T00:00:00.000Z', volume: 12, count: 5 },
      { bucket: '2024-03-01T00:00:00.000Z', volume: 8, count: 8 },
    ]);
  });

  it('fills a 90-day minute range of about 130,000 buckets', () => {
    // Its speed is measured by the benchmark (B3), not by a timed test on a shared machine.
    const r = parseUsageRange({ interval: 'minute' }, new Date('2021-04-20T10:11:12Z'));
    const rows: BucketRow[] = Array.from({ length: 10_000 }, (_, i) => ({
      start: r.from.getTime() + i * 12 * MINUTE,
      count: 1,
      volume: 100,
    }));
    const points = zeroFill(r, rows);
    const firstStart = bucketStart(r.from.getTime(), 'minute');
    expect(points).toHaveLength(129_601);
    expect(points[129_600].bucket).toBe('2021-04-20T10:11:00.000Z');
    expect(points.findIndex((p, i) => p.bucket !== iso(firstStart + i * MINUTE))).toBe(-1);
    expect(sum(points.map((p) => p.count))).toBe(10_000);
  });

  describe('for any valid range and rows', () => {
    const arbitraryCase = arbitraryRange.chain((r) => {
      const first = bucketStart(r.from.getTime(), r.interval);
      const end = nextBucketStart(bucketStart(r.to.getTime(), r.interval), r.interval);
      const row = fc.record({
        // reach a little past both ends so some rows fall outside the range
        start: fc.integer({ min: first - 2 * DAY, max: end + 2 * DAY }),
        count: fc.nat({ max: 1000 }),
        volume: fc.nat({ max: 1_000_000_000 }),
      });
      return fc.tuple(fc.constant(r), fc.array(row, { maxLength: 50 }));
    });

    it('gives one point per bucket and keeps the totals of the rows inside the range', () => {
      fc.assert(
        fc.property(arbitraryCase, ([r, rows]) => {
          const points = zeroFill(r, rows);
          const { fromMinute, toMinute } = minuteRange(r);
          const inside = rows.filter(
            (row) => row.start >= fromMinute * MINUTE && row.start < (toMinute + 1) * MINUTE,
          );
          expect(points).toHaveLength(countBuckets(r));
          expect(points.map((p) => p.bucket)).toEqual(bucketStarts(r).map(iso));
          expect(sum(points.map((p) => p.count))).toBe(sum(inside.map((row) => row.count)));
          expect(sum(points.map((p) => p.volume))).toBe(sum(inside.map((row) => row.volume)));
        }),
        { numRuns: 200 },
      );
    });

    it('puts each row in the bucket holding it and leaves the other buckets at zero', () => {
      fc.assert(
        fc.property(arbitraryCase, ([r, rows]) => {
          const expected = new Map<string, number>();
          const { fromMinute, toMinute } = minuteRange(r);
          for (const row of rows) {
            if (row.start < fromMinute * MINUTE || row.start > toMinute * MINUTE + MINUTE - 1) {
              continue;
            }
            const bucket = iso(bucketStart(row.start, r.interval));
            expected.set(bucket, (expected.get(bucket) ?? 0) + row.count);
          }
          const points = zeroFill(r, rows);
          expect(points.map((p) => p.count)).toEqual(
            points.map((p) => expected.get(p.bucket) ?? 0),
          );
        }),
        { numRuns: 200 },
      );
    });
  });
});

describe(storedUnit.name, () => {
  it.each<[Interval, StoredUnit]>([
    ['minute', 'minute'],
    ['hour', 'hour'],
    ['day', 'hour'],
    ['week', 'hour'],
    ['month', 'hour'],
  ])('reads %s buckets from %s rows', (interval, unit) => {
    expect(storedUnit(interval)).toBe(unit);
  });

  it('uses units that tile the minutes of every bucket of any valid range exactly', () => {
    fc.assert(
      fc.property(arbitraryRange, (r) => {
        const size = STORED_UNIT_MINUTES[storedUnit(r.interval)];
        const { fromMinute, toMinute } = minuteRange(r);
        // (Weeks may start before the epoch, so remainders may be -0.)
        const tiled = (minute: number) => minute % size === 0;
        expect(bucketStarts(r).every((start) => tiled(start / MINUTE))).toBe(true);
        expect(tiled(fromMinute) && tiled(toMinute + 1)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('sums to the same buckets from stored units as from the minutes in them', () => {
    const minuteRow = fc.record({ minute: fc.nat({ max: 3 * 1440 * 95 }), count: fc.nat(1000) });
    fc.assert(
      fc.property(arbitraryRange, fc.array(minuteRow, { maxLength: 60 }), (r, minutes) => {
        const { fromMinute } = minuteRange(r);
        const rows = minutes.map((m) => ({ ...m, minute: fromMinute - 1440 + m.minute }));
        const size = STORED_UNIT_MINUTES[storedUnit(r.interval)];
        const rolledUp = new Map<number, number>();
        for (const row of rows) {
          const unit = Math.floor(row.minute / size);
          rolledUp.set(unit, (rolledUp.get(unit) ?? 0) + row.count);
        }
        const fromMinutes = zeroFill(
          r,
          rows.map((row) => ({ start: row.minute * MINUTE, count: row.count, volume: 0 })),
        );
        const fromUnits = zeroFill(
          r,
          [...rolledUp].map(([unit, count]) => ({ start: unit * size * MINUTE, count, volume: 0 })),
        );
        expect(fromUnits).toEqual(fromMinutes);
      }),
      { numRuns: 300 },
    );
  });
});

describe(BucketTotals.name, () => {
  const hourly = range('2021-01-19T00:00:00Z', '2021-01-19T03:30:00Z', 'hour');

  it('adds into the bucket holding each start and gives each bucket start in order', () => {
    const totals = new BucketTotals(hourly);
    totals.add(at('2021-01-19T02:59:00Z'), 3, 30);
    totals.add(at('2021-01-19T02:00:00Z'), 1, 10);
    totals.add(at('2021-01-19T04:00:00Z'), 100, 100);
    expect(totals.length).toBe(4);
    expect([0, 1, 2, 3].map((i) => iso(totals.startOf(i)))).toEqual(bucketStarts(hourly).map(iso));
    expect([0, 1, 2, 3].map((i) => [totals.countAt(i), totals.volumeAt(i)])).toEqual([
      [0, 0],
      [0, 0],
      [4, 40],
      [0, 0],
    ]);
  });

  it('gives calendar month starts for months', () => {
    const totals = new BucketTotals(range('2024-01-15', '2024-03-10', 'month'));
    expect([0, 1, 2].map((i) => iso(totals.startOf(i)))).toEqual([
      '2024-01-01T00:00:00.000Z',
      '2024-02-01T00:00:00.000Z',
      '2024-03-01T00:00:00.000Z',
    ]);
  });
});

describe(minuteRange.name, () => {
  it('covers the whole first and last buckets, not just from and to', () => {
    const { fromMinute, toMinute } = minuteRange(
      range('2021-01-19T10:20:00Z', '2021-02-03', 'week'),
    );
    expect(iso(fromMinute * MINUTE)).toBe('2021-01-18T00:00:00.000Z');
    expect(iso(toMinute * MINUTE)).toBe('2021-02-07T23:59:00.000Z');
  });

  it('covers whole calendar months', () => {
    const { fromMinute, toMinute } = minuteRange(range('2024-02-10', '2024-02-11', 'month'));
    expect(iso(fromMinute * MINUTE)).toBe('2024-02-01T00:00:00.000Z');
    expect(iso(toMinute * MINUTE)).toBe('2024-02-29T23:59:00.000Z');
  });

  it('spans exactly the minutes of all buckets for any valid range', () => {
    fc.assert(
      fc.property(arbitraryRange, (r) => {
        const starts = bucketStarts(r);
        const { fromMinute, toMinute } = minuteRange(r);
        expect(Number.isInteger(fromMinute) && Number.isInteger(toMinute)).toBe(true);
        expect(fromMinute * MINUTE).toBe(starts[0]);
        expect((toMinute + 1) * MINUTE).toBe(
          nextBucketStart(starts[starts.length - 1], r.interval),
        );
      }),
      { numRuns: 200 },
    );
  });
});

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
