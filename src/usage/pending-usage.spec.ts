import fc from 'fast-check';
import { KeyUsage, PendingUsage } from './pending-usage';
import { MINUTE_MS } from './time';

const T0 = Date.UTC(2024, 0, 15, 10, 0, 0);
const minuteOf = (ms: number) => Math.floor(ms / MINUTE_MS);

/** A key's usage as plain data: totals, last use and its minute buckets in minute order. */
function plain(usage: KeyUsage | undefined) {
  if (!usage) return undefined;
  return {
    count: usage.count,
    volume: usage.volume,
    lastUsedMs: usage.lastUsedMs,
    minutes: [...usage.minutes.entries()]
      .sort(([a], [b]) => a - b)
      .map(([minute, b]) => [minute, b.count, b.volume]),
  };
}

describe(PendingUsage.name, () => {
  describe('add', () => {
    it('starts empty, with no buckets and nothing for any key', () => {
      const pending = new PendingUsage();
      expect(pending.isEmpty).toBe(true);
      expect(pending.bucketCount).toBe(0);
      expect(pending.get('a')).toBeUndefined();
    });

    it('sums counts and volumes per key and per UTC minute', () => {
      const pending = new PendingUsage();
      pending.add('a', 1, 100, T0);
      pending.add('a', 1, 50, T0 + 59_999);
      pending.add('a', 2, 7, T0 + MINUTE_MS);
      pending.add('b', 1, 0, T0 + 30_000);

      expect(pending.isEmpty).toBe(false);
      expect(plain(pending.get('a'))).toEqual({
        count: 4,
        volume: 157,
        lastUsedMs: T0 + MINUTE_MS,
        minutes: [
          [minuteOf(T0), 2, 150],
          [minuteOf(T0) + 1, 2, 7],
        ],
      });
      expect(plain(pending.get('b'))).toEqual({
        count: 1,
        volume: 0,
        lastUsedMs: T0 + 30_000,
        minutes: [[minuteOf(T0), 1, 0]],
      });
    });

    it('counts one bucket per key and minute, however many uses fall into it', () => {
      const pending = new PendingUsage();
      for (let i = 0; i < 10; i++) pending.add('a', 1, i, T0 + i * 1000);
      expect(pending.bucketCount).toBe(1);
      pending.add('a', 1, 0, T0 + MINUTE_MS);
      pending.add('b', 1, 0, T0);
      expect(pending.bucketCount).toBe(3);
    });

    it('moves lastUsedMs forward only, whatever order the uses arrive in', () => {
      const pending = new PendingUsage();
      pending.add('a', 1, 0, T0 + 5000);
      pending.add('a', 1, 0, T0 + 1000);
      expect(pending.get('a')?.lastUsedMs).toBe(T0 + 5000);
      pending.add('a', 1, 0, T0 + 3 * MINUTE_MS);
      pending.add('a', 1, 0, T0 - MINUTE_MS);
      expect(pending.get('a')?.lastUsedMs).toBe(T0 + 3 * MINUTE_MS);
    });

    it('puts a use at the exact start of a minute into that minute, not the previous one', () => {
      const pending = new PendingUsage();
      pending.add('a', 1, 1, T0 - 1);
      pending.add('a', 1, 2, T0);
      expect(plain(pending.get('a'))?.minutes).toEqual([
        [minuteOf(T0) - 1, 1, 1],
        [minuteOf(T0), 1, 2],
      ]);
    });
  });

  describe('take', () => {
    it('hands over everything held and leaves the buffer empty', () => {
      const pending = new PendingUsage();
      pending.add('a', 1, 10, T0);
      pending.add('b', 1, 20, T0 + MINUTE_MS);

      const taken = pending.take();
      expect([...taken.keys()].sort()).toEqual(['a', 'b']);
      expect(plain(taken.get('a'))).toEqual({
        count: 1,
        volume: 10,
        lastUsedMs: T0,
        minutes: [[minuteOf(T0), 1, 10]],
      });
      expect(pending.isEmpty).toBe(true);
      expect(pending.bucketCount).toBe(0);
      expect(pending.get('a')).toBeUndefined();
    });

    it('does not let uses added after a take change what was taken', () => {
      const pending = new PendingUsage();
      pending.add('a', 1, 10, T0);
      const taken = pending.take();
      pending.add('a', 5, 50, T0);
      expect(plain(taken.get('a'))).toEqual({
        count: 1,
        volume: 10,
        lastUsedMs: T0,
        minutes: [[minuteOf(T0), 1, 10]],
      });
      expect(pending.get('a')?.count).toBe(5);
    });
  });

  describe('restore', () => {
    it('puts back a taken batch exactly as it was when nothing arrived since', () => {
      const pending = new PendingUsage();
      pending.add('a', 1, 10, T0 + 12_345);
      pending.add('a', 1, 20, T0 + MINUTE_MS + 1);
      pending.add('b', 1, 30, T0);
      const before = { a: plain(pending.get('a')), b: plain(pending.get('b')) };

      pending.restore(pending.take());

      expect({ a: plain(pending.get('a')), b: plain(pending.get('b')) }).toEqual(before);
      expect(pending.bucketCount).toBe(3);
    });

    it('adds a restored batch to what arrived since the take, merging shared minutes', () => {
      const pending = new PendingUsage();
      pending.add('a', 1, 10, T0 + 1000);
      pending.add('a', 1, 20, T0 + MINUTE_MS + 1000);
      const taken = pending.take();

      pending.add('a', 1, 5, T0 + MINUTE_MS + 2000); // same minute as a taken bucket
      pending.add('a', 1, 7, T0 + 2 * MINUTE_MS); // a new minute
      pending.add('c', 1, 1, T0); // a key the batch does not hold
      pending.restore(taken);

      expect(plain(pending.get('a'))).toEqual({
        count: 4,
        volume: 42,
        lastUsedMs: T0 + 2 * MINUTE_MS,
        minutes: [
          [minuteOf(T0), 1, 10],
          [minuteOf(T0) + 1, 2, 25],
          [minuteOf(T0) + 2, 1, 7],
        ],
      });
      expect(plain(pending.get('c'))?.count).toBe(1);
      expect(pending.bucketCount).toBe(4);
    });

    it('keeps the exact instant of the last use, not the start of its minute', () => {
      const pending = new PendingUsage();
      pending.add('a', 1, 0, T0 + 45_678);
      pending.restore(pending.take());
      expect(pending.get('a')?.lastUsedMs).toBe(T0 + 45_678);
    });

    it('keeps a later use that arrived since the take as the last use', () => {
      const pending = new PendingUsage();
      pending.add('a', 1, 0, T0 + 1000);
      const taken = pending.take();
      pending.add('a', 1, 0, T0 + 9000);
      pending.restore(taken);
      expect(pending.get('a')?.lastUsedMs).toBe(T0 + 9000);
    });

    it('keeps a restored last use that is later than one that arrived since the take', () => {
      const pending = new PendingUsage();
      pending.add('a', 1, 0, T0 + 50_000);
      const taken = pending.take();
      pending.add('a', 1, 0, T0 + 10_000);
      pending.restore(taken);
      expect(pending.get('a')?.lastUsedMs).toBe(T0 + 50_000);
    });
  });

  describe('forget', () => {
    it("drops one key's usage and its buckets and leaves the other keys alone", () => {
      const pending = new PendingUsage();
      pending.add('a', 1, 10, T0);
      pending.add('a', 1, 10, T0 + MINUTE_MS);
      pending.add('b', 1, 20, T0);

      pending.forget('a');

      expect(pending.get('a')).toBeUndefined();
      expect(pending.bucketCount).toBe(1);
      expect(plain(pending.get('b'))?.count).toBe(1);
      pending.forget('b');
      expect(pending.isEmpty).toBe(true);
      expect(pending.bucketCount).toBe(0);
    });

    it('ignores a key that has nothing pending', () => {
      const pending = new PendingUsage();
      pending.add('a', 1, 10, T0);
      pending.forget('zzz');
      expect(pending.bucketCount).toBe(1);
      expect(pending.get('a')?.count).toBe(1);
    });
  });

  describe('under any sequence of adds, takes and restores', () => {
    type Op =
      | { kind: 'add'; key: string; atMs: number; volume: number }
      | { kind: 'take' }
      | { kind: 'restore'; pick: number };

    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({
          kind: fc.constant('add' as const),
          key: fc.constantFrom('a', 'b', 'c', 'd'),
          atMs: fc.integer({ min: T0, max: T0 + 5 * MINUTE_MS - 1 }),
          volume: fc.integer({ min: 0, max: 1_000_000 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('take' as const) }) },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('restore' as const), pick: fc.nat() }),
      },
    );

    type Sums = Map<string, { count: number; volume: number }>;
    const addTo = (sums: Sums, id: string, count: number, volume: number) => {
      const s = sums.get(id) ?? { count: 0, volume: 0 };
      s.count += count;
      s.volume += volume;
      sums.set(id, s);
    };
    const sorted = (sums: Sums) => [...sums.entries()].sort(([x], [y]) => x.localeCompare(y));

    it('preserves the per-key per-minute sums, the totals and the last use of every key', () => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
          const pending = new PendingUsage();
          const expected: Sums = new Map();
          const expectedTotals: Sums = new Map();
          const expectedLast = new Map<string, number>();
          /** Taken and not restored: what a successful write would have stored. */
          const outstanding: Map<string, KeyUsage>[] = [];

          for (const o of ops) {
            if (o.kind === 'add') {
              pending.add(o.key, 1, o.volume, o.atMs);
              addTo(expected, `${o.key}@${minuteOf(o.atMs)}`, 1, o.volume);
              addTo(expectedTotals, o.key, 1, o.volume);
              expectedLast.set(o.key, Math.max(expectedLast.get(o.key) ?? 0, o.atMs));
            } else if (o.kind === 'take') {
              outstanding.push(pending.take());
            } else if (outstanding.length > 0) {
              pending.restore(outstanding.splice(o.pick % outstanding.length, 1)[0]);
            }
            // bucketCount always equals the buckets actually held.
            let held = 0;
            for (const key of ['a', 'b', 'c', 'd']) held += pending.get(key)?.minutes.size ?? 0;
            expect(pending.bucketCount).toBe(held);
          }

          const actual: Sums = new Map();
          const actualTotals: Sums = new Map();
          const actualLast = new Map<string, number>();
          for (const batch of [...outstanding, pending.take()]) {
            for (const [key, usage] of batch) {
              let minuteCount = 0;
              let minuteVolume = 0;
              for (const [minute, b] of usage.minutes) {
                addTo(actual, `${key}@${minute}`, b.count, b.volume);
                minuteCount += b.count;
                minuteVolume += b.volume;
              }
              // Each batch's totals agree with its own buckets.
              expect({ count: usage.count, volume: usage.volume }).toEqual({
                count: minuteCount,
                volume: minuteVolume,
              });
              addTo(actualTotals, key, usage.count, usage.volume);
              actualLast.set(key, Math.max(actualLast.get(key) ?? 0, usage.lastUsedMs));
            }
          }

          expect(sorted(actual)).toEqual(sorted(expected));
          expect(sorted(actualTotals)).toEqual(sorted(expectedTotals));
          expect([...actualLast.entries()].sort()).toEqual([...expectedLast.entries()].sort());
          expect(pending.isEmpty).toBe(true);
        }),
        { numRuns: 300 },
      );
    });
  });
});
