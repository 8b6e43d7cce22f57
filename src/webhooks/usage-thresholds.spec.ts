import fc from 'fast-check';
import type { Quota } from '../limits/limits';
import type { MinuteUsage } from '../usage/pending-usage';
import { MINUTE_MS } from '../usage/time';
import {
  crossings,
  servedByPeriod,
  thresholdEventId,
  thresholdFigures,
  USAGE_THRESHOLDS,
} from './usage-thresholds';

const DAY = 86_400_000;
const requests = (limit: number): Quota => ({ requests: limit, volumeBytes: null, period: 'day' });
const served = (n: number, volume = 0) => ({ requests: n, volume });

describe('crossings', () => {
  it('finds a threshold when consumption reaches it, not before', () => {
    expect(crossings(requests(10), served(3), served(4))).toEqual([]);
    expect(crossings(requests(10), served(4), served(5))).toEqual([
      { metric: 'requests', threshold: 50, used: 5, limit: 10 },
    ]);
    expect(crossings(requests(10), served(5), served(6))).toEqual([]);
  });

  it('finds every threshold one addition passes, in order', () => {
    expect(crossings(requests(10), served(0), served(12)).map((c) => c.threshold)).toEqual([
      50, 80, 100,
    ]);
  });

  it('counts exactly where p % of the limit is not a whole number', () => {
    // 50 % of 7 is 3.5: the 4th use crosses it; 80 % is 5.6: the 6th.
    expect(crossings(requests(7), served(3), served(4)).map((c) => c.threshold)).toEqual([50]);
    expect(crossings(requests(7), served(5), served(6)).map((c) => c.threshold)).toEqual([80]);
    expect(crossings(requests(7), served(6), served(7)).map((c) => c.threshold)).toEqual([100]);
  });

  it('looks at each limited dimension on its own, and at no other', () => {
    const both: Quota = { requests: 100, volumeBytes: 1000, period: 'month' };
    expect(crossings(both, served(10, 400), served(11, 800))).toEqual([
      { metric: 'volumeBytes', threshold: 50, used: 800, limit: 1000 },
      { metric: 'volumeBytes', threshold: 80, used: 800, limit: 1000 },
    ]);
    const volumeOnly: Quota = { requests: null, volumeBytes: 1000, period: 'day' };
    expect(crossings(volumeOnly, served(0, 0), served(1_000_000, 10))).toEqual([]);
  });

  it('tells of each threshold once however the uses are batched', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 40 }),
        (limit, batches) => {
          let total = 0;
          const told: number[] = [];
          for (const n of batches) {
            told.push(
              ...crossings(requests(limit), served(total), served(total + n)).map(
                (c) => c.threshold,
              ),
            );
            total += n;
          }
          const expected = USAGE_THRESHOLDS.filter((p) => total * 100 >= limit * p);
          expect(told).toEqual(expected);
        },
      ),
    );
  });
});

describe('servedByPeriod', () => {
  const minutes = (entries: [number, number, number][]) =>
    new Map<number, MinuteUsage>(
      entries.map(([ms, count, volume]) => [Math.floor(ms / MINUTE_MS), { count, volume }]),
    );

  it('splits a batch that straddles midnight between the two days', () => {
    const midnight = 20_000 * DAY;
    const batch = minutes([
      [midnight - MINUTE_MS, 3, 30],
      [midnight, 2, 20],
      [midnight + 5 * MINUTE_MS, 1, 0],
    ]);
    expect([...servedByPeriod(requests(10), batch)]).toEqual([
      [midnight - DAY, { requests: 3, volume: 30 }],
      [midnight, { requests: 3, volume: 20 }],
    ]);
    const total: Quota = { requests: 10, volumeBytes: null, period: 'total' };
    expect([...servedByPeriod(total, batch)]).toEqual([[0, { requests: 6, volume: 50 }]]);
  });

  it('leaves out minutes that hold only answers', () => {
    expect(servedByPeriod(requests(10), minutes([[DAY, 0, 0]])).size).toBe(0);
  });
});

describe('thresholdEventId and thresholdFigures', () => {
  const crossing = { metric: 'requests' as const, threshold: 80 as const, used: 8, limit: 10 };

  it('derives one id per key, period, limit and threshold', () => {
    const id = thresholdEventId('k1', DAY, crossing);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(thresholdEventId('k1', DAY, { ...crossing })).toBe(id);
    expect(thresholdEventId('k2', DAY, crossing)).not.toBe(id);
    expect(thresholdEventId('k1', 2 * DAY, crossing)).not.toBe(id);
    expect(thresholdEventId('k1', DAY, { ...crossing, limit: 20 })).not.toBe(id);
    expect(thresholdEventId('k1', DAY, { ...crossing, threshold: 100 })).not.toBe(id);
  });

  it('says the period and when it resets (never, for a total quota)', () => {
    const march = Date.UTC(2027, 2, 1);
    expect(
      thresholdFigures({ requests: 10, volumeBytes: null, period: 'month' }, march, crossing),
    ).toEqual({
      metric: 'requests',
      threshold: 80,
      used: 8,
      limit: 10,
      period: 'month',
      periodStart: '2027-03-01T00:00:00.000Z',
      resetsAt: '2027-04-01T00:00:00.000Z',
    });
    expect(
      thresholdFigures({ requests: 10, volumeBytes: null, period: 'total' }, 0, crossing),
    ).toMatchObject({ period: 'total', periodStart: '1970-01-01T00:00:00.000Z', resetsAt: null });
  });
});
