import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { APP_CONFIG, loadConfig } from '../config/config';
import { PrismaService } from '../prisma/prisma.service';
import { KeyUsage } from './pending-usage';
import { MINUTE_MS } from './time';
import { nextFlushDelay, UsageMeter } from './usage-meter.service';
import { UsageRepository } from './usage.repository';

const T0 = Date.UTC(2024, 0, 15, 10, 0, 0);
const M0 = T0 / MINUTE_MS;

/** A batch as plain data, copied at the moment addUsage received it. */
type BatchSnapshot = Record<
  string,
  { count: number; volume: number; lastUsedMs: number; minutes: [number, number, number][] }
>;

function snapshot(batch: Map<string, KeyUsage>): BatchSnapshot {
  const out: BatchSnapshot = {};
  for (const [key, usage] of batch) {
    out[key] = {
      count: usage.count,
      volume: usage.volume,
      lastUsedMs: usage.lastUsedMs,
      minutes: [...usage.minutes.entries()]
        .sort(([a], [b]) => a - b)
        .map(([minute, b]) => [minute, b.count, b.volume]),
    };
  }
  return out;
}

/** A promise settled from outside: a database write that takes as long as the test wants. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface Harness {
  meter: UsageMeter;
  addUsage: jest.Mock<Promise<void>, [Map<string, KeyUsage>]>;
  /** Every batch addUsage was called with, as it was at the call. */
  batches: BatchSnapshot[];
  /** The "database": a key's count and volume from the batches whose write succeeded. */
  stored(keyId: string): { count: number; volume: number };
  /** What UsageMeter registered with PrismaService.beforeDisconnect. */
  beforeDisconnect: () => Promise<void>;
  close(): Promise<void>;
}

describe('nextFlushDelay', () => {
  it('waits 95 % of the interval after an instant flush', () => {
    expect(nextFlushDelay(1000, 0)).toBe(950);
  });

  it('takes twice the last flush off, and how late its timer fired', () => {
    expect(nextFlushDelay(1000, 120)).toBe(710);
    expect(nextFlushDelay(1000, 120, 30)).toBe(680);
  });

  it('never flushes back to back, even when flushes take longer than the interval', () => {
    expect(nextFlushDelay(1000, 700)).toBe(10);
    expect(nextFlushDelay(5, 700)).toBe(5);
  });
});

async function meterWith(env: Record<string, string>): Promise<Harness> {
  const batches: BatchSnapshot[] = [];
  const addUsage = jest.fn<Promise<void>, [Map<string, KeyUsage>]>();
  addUsage.mockImplementation(() => Promise.resolve());
  const committed = new Map<string, { count: number; volume: number }>();
  const repository: Pick<UsageRepository, 'addUsage'> = {
    addUsage: async (batch) => {
      const copy = snapshot(batch);
      batches.push(copy);
      await addUsage(batch);
      for (const [key, usage] of Object.entries(copy)) {
        const row = committed.get(key) ?? { count: 0, volume: 0 };
        committed.set(key, { count: row.count + usage.count, volume: row.volume + usage.volume });
      }
    },
  };
  const drains: (() => Promise<void>)[] = [];
  const prisma: Pick<PrismaService, 'beforeDisconnect'> = {
    beforeDisconnect: (fn) => {
      drains.push(fn);
    },
  };
  const moduleRef = await Test.createTestingModule({
    providers: [
      UsageMeter,
      { provide: APP_CONFIG, useValue: loadConfig(env) },
      { provide: UsageRepository, useValue: repository },
      { provide: PrismaService, useValue: prisma },
    ],
  }).compile();
  await moduleRef.init();
  expect(drains).toHaveLength(1);
  return {
    meter: moduleRef.get(UsageMeter),
    addUsage,
    batches,
    stored: (keyId) => committed.get(keyId) ?? { count: 0, volume: 0 },
    beforeDisconnect: drains[0],
    close: () => moduleRef.close(),
  };
}

/** Lets pending promise callbacks (a write's settlement) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe(UsageMeter.name, () => {
  let harness: Harness | undefined;
  let loggedErrors: jest.SpyInstance;

  beforeEach(() => {
    loggedErrors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    // Stops the meter's timer, as the application's shutdown would.
    harness?.addUsage.mockImplementation(() => Promise.resolve());
    await harness?.beforeDisconnect();
    await harness?.close();
    harness = undefined;
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  describe('in buffered mode', () => {
    const BUFFERED = { USAGE_FLUSH_INTERVAL_MS: '60000' };

    it('writes nothing per record and batches every record into one addUsage call', async () => {
      harness = await meterWith(BUFFERED);
      const { meter, addUsage, batches } = harness;
      expect(meter.strict).toBe(false);

      for (let i = 0; i < 500; i++) {
        expect(meter.record(i % 2 === 0 ? 'a' : 'b', i, T0 + i * 100)).toBeUndefined();
      }
      expect(addUsage).not.toHaveBeenCalled();

      await meter.flush();

      expect(addUsage).toHaveBeenCalledTimes(1);
      const volumeOf = (parity: number, from: number, to: number) => {
        let sum = 0;
        for (let i = from; i < to; i++) if (i % 2 === parity) sum += i;
        return sum;
      };
      // 100 ms apart, the 500 records all fall into minute M0.
      const a = volumeOf(0, 0, 500);
      const b = volumeOf(1, 0, 500);
      expect(batches[0]).toEqual({
        a: { count: 250, volume: a, lastUsedMs: T0 + 498 * 100, minutes: [[M0, 250, a]] },
        b: { count: 250, volume: b, lastUsedMs: T0 + 499 * 100, minutes: [[M0, 250, b]] },
      });
    });

    it('sends per-minute buckets that add up to the totals', async () => {
      harness = await meterWith(BUFFERED);
      const { meter, batches } = harness;
      meter.record('a', 10, T0 + 1000);
      meter.record('a', 20, T0 + MINUTE_MS + 5);
      meter.record('a', 30, T0 + 2000);
      meter.record('b', 0, T0 + 3 * MINUTE_MS);

      await meter.flush();

      expect(batches).toEqual([
        {
          a: {
            count: 3,
            volume: 60,
            lastUsedMs: T0 + MINUTE_MS + 5,
            minutes: [
              [M0, 2, 40],
              [M0 + 1, 1, 20],
            ],
          },
          b: { count: 1, volume: 0, lastUsedMs: T0 + 3 * MINUTE_MS, minutes: [[M0 + 3, 1, 0]] },
        },
      ]);
    });

    it('does not call addUsage when nothing is pending', async () => {
      harness = await meterWith(BUFFERED);
      await harness.meter.flush();
      expect(harness.addUsage).not.toHaveBeenCalled();
      expect(harness.meter.unflushed('a')).toBeNull();
    });

    it('flushes on its own every USAGE_FLUSH_INTERVAL_MS', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
      harness = await meterWith({ USAGE_FLUSH_INTERVAL_MS: '1000' });
      const { meter, addUsage, batches } = harness;
      meter.record('a', 5, T0);

      await jest.advanceTimersByTimeAsync(999);
      expect(addUsage).not.toHaveBeenCalled();
      await jest.advanceTimersByTimeAsync(1);
      expect(addUsage).toHaveBeenCalledTimes(1);
      expect(batches[0].a.count).toBe(1);

      meter.record('a', 5, T0 + 10);
      await jest.advanceTimersByTimeAsync(1000);
      expect(addUsage).toHaveBeenCalledTimes(2);
      await jest.advanceTimersByTimeAsync(5000);
      expect(addUsage).toHaveBeenCalledTimes(2);
    });

    it("starts the next flush earlier by twice the last one's duration, so commits stay within an interval", async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
      harness = await meterWith({ USAGE_FLUSH_INTERVAL_MS: '1000' });
      const { meter, addUsage } = harness;
      const write = deferred();
      addUsage.mockImplementationOnce(() => write.promise);
      meter.record('a', 5, T0);
      await jest.advanceTimersByTimeAsync(1000);
      expect(addUsage).toHaveBeenCalledTimes(1);
      // The write takes 300 ms: its batch is still unwritten, so it still counts as pending.
      expect(meter.pendingBuckets).toBe(1);
      meter.record('b', 5, T0);
      expect(meter.pendingBuckets).toBe(2);
      await jest.advanceTimersByTimeAsync(300);
      write.resolve();
      await jest.advanceTimersByTimeAsync(0);
      expect(meter.pendingBuckets).toBe(1);
      // Next flush 950 - 2 × 300 = 350 ms after that one ended, not 1000.
      await jest.advanceTimersByTimeAsync(349);
      expect(addUsage).toHaveBeenCalledTimes(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(addUsage).toHaveBeenCalledTimes(2);
      expect(meter.pendingBuckets).toBe(0);
    });

    it('keeps the counts of a failed write and writes them all exactly once in the next flush', async () => {
      harness = await meterWith(BUFFERED);
      const { meter, addUsage, batches } = harness;
      addUsage.mockRejectedValueOnce(new Error('database is locked'));

      meter.record('a', 100, T0 + 1000);
      meter.record('b', 200, T0 + 2000);
      await expect(meter.flush()).resolves.toBeUndefined();
      expect(addUsage).toHaveBeenCalledTimes(1);
      expect(loggedErrors).toHaveBeenCalledTimes(1);
      expect(String(loggedErrors.mock.calls[0][0])).toMatch(/could not write usage/);
      expect(meter.unflushed('a')).toMatchObject({ count: 1, volume: 100 });

      meter.record('a', 1, T0 + 3000);
      await meter.flush();
      await meter.flush();

      expect(addUsage).toHaveBeenCalledTimes(2);
      expect(batches[1]).toEqual({
        a: { count: 2, volume: 101, lastUsedMs: T0 + 3000, minutes: [[M0, 2, 101]] },
        b: { count: 1, volume: 200, lastUsedMs: T0 + 2000, minutes: [[M0, 1, 200]] },
      });
      expect(meter.unflushed('a')).toBeNull();
      expect(meter.unflushed('b')).toBeNull();
    });

    it('shares one write between concurrent flush() calls', async () => {
      harness = await meterWith(BUFFERED);
      const { meter, addUsage } = harness;
      const write = deferred();
      addUsage.mockImplementationOnce(() => write.promise);
      meter.record('a', 1, T0);

      const settled: number[] = [];
      const calls = [meter.flush(), meter.flush(), meter.flush()].map((p, i) =>
        p.then(() => settled.push(i)),
      );
      await settle();
      expect(addUsage).toHaveBeenCalledTimes(1);
      expect(settled).toEqual([]);

      write.resolve();
      await Promise.all(calls);
      expect(settled.sort()).toEqual([0, 1, 2]);
      expect(addUsage).toHaveBeenCalledTimes(1);
    });

    it('has written, once flush() called during a write resolves, what was pending at the call', async () => {
      harness = await meterWith(BUFFERED);
      const { meter, addUsage, batches } = harness;
      const write = deferred();
      addUsage.mockImplementationOnce(() => write.promise);
      meter.record('a', 1, T0);
      const running = meter.flush(); // e.g. the timer's flush
      meter.record('a', 2, T0 + 1); // arrives during that write
      const requested = meter.flush(); // e.g. a test, or a caller that needs the data stored

      write.resolve();
      await Promise.all([running, requested]);

      expect(batches.map((b) => b.a.volume)).toEqual([1, 2]);
      expect(meter.unflushed('a')).toBeNull();
    });

    it('reports pending usage in unflushed(): totals, last use and minute buckets', async () => {
      harness = await meterWith(BUFFERED);
      const { meter } = harness;
      meter.record('a', 10, T0 + 1000);
      meter.record('a', 20, T0 + MINUTE_MS);
      meter.record('a', 5, T0 + MINUTE_MS + 1);

      const unflushed = meter.unflushed('a');
      expect({
        ...unflushed,
        minutes: [...(unflushed?.minutes ?? [])].sort((x, y) => x[0] - y[0]),
      }).toEqual({
        count: 3,
        volume: 35,
        volumeOut: 0,
        traffic: [],
        lastUsedMs: T0 + MINUTE_MS + 1,
        minutes: [
          [T0, 1, 10],
          [T0 + MINUTE_MS, 2, 25],
        ],
      });
      expect(meter.unflushed('other')).toBeNull();
    });

    /** What a read of the key's totals returns: the database plus what is held in memory. */
    const totalRead = (h: Harness, keyId: string, between?: Promise<void>) =>
      h.meter.consistentRead(async () => {
        const row = h.stored(keyId);
        await between; // e.g. the rest of a slow query
        const held = h.meter.unflushed(keyId);
        return { count: row.count + (held?.count ?? 0), volume: row.volume + (held?.volume ?? 0) };
      });

    it('counts every use exactly once in a read made during a slow write that succeeds', async () => {
      harness = await meterWith(BUFFERED);
      const { meter, addUsage } = harness;
      const write = deferred();
      addUsage.mockImplementationOnce(() => write.promise);

      meter.record('a', 10, T0);
      meter.record('a', 20, T0 + 1);
      const running = meter.flush();
      meter.record('a', 5, T0 + 2);
      const read = totalRead(harness, 'a');
      await settle();
      write.resolve();

      await expect(read).resolves.toEqual({ count: 3, volume: 35 });
      await running;
      await expect(totalRead(harness, 'a')).resolves.toEqual({ count: 3, volume: 35 });
      expect(harness.stored('a')).toEqual({ count: 2, volume: 30 });
    });

    it('counts every use exactly once in a read made during a slow write that fails', async () => {
      harness = await meterWith(BUFFERED);
      const { meter, addUsage } = harness;
      const write = deferred();
      addUsage.mockImplementationOnce(() => write.promise);

      meter.record('a', 10, T0);
      const running = meter.flush();
      meter.record('a', 5, T0 + 1);
      const read = totalRead(harness, 'a');
      await settle();
      write.reject(new Error('connection reset'));

      await expect(read).resolves.toEqual({ count: 2, volume: 15 });
      await running;
      expect(harness.stored('a')).toEqual({ count: 0, volume: 0 });
      expect(meter.unflushed('a')).toMatchObject({
        count: 2,
        volume: 15,
        lastUsedMs: T0 + 1,
        minutes: [[T0, 2, 15]],
      });
    });

    it('does not let a flush commit in the middle of a read of the database and memory', async () => {
      harness = await meterWith(BUFFERED);
      const { meter } = harness;
      meter.record('a', 10, T0);
      meter.record('a', 20, T0 + 1);

      const restOfQuery = deferred();
      const read = totalRead(harness, 'a', restOfQuery.promise); // has read the database
      await settle();
      const flushing = meter.flush(); // e.g. the timer fires now
      await settle();
      restOfQuery.resolve();

      await expect(read).resolves.toEqual({ count: 2, volume: 30 });
      await flushing;
      expect(harness.stored('a')).toEqual({ count: 2, volume: 30 });
      expect(meter.unflushed('a')).toBeNull();
    });

    it('flushes early once usageMaxPendingBuckets buckets are pending', async () => {
      harness = await meterWith({ ...BUFFERED, USAGE_MAX_PENDING_BUCKETS: '3' });
      const { meter, addUsage, batches } = harness;

      meter.record('a', 1, T0);
      meter.record('a', 1, T0 + 1000); // same bucket
      meter.record('a', 1, T0 + MINUTE_MS);
      await settle();
      expect(addUsage).not.toHaveBeenCalled();
      meter.record('b', 1, T0); // third bucket
      await settle();
      expect(addUsage).toHaveBeenCalledTimes(1);

      expect(batches[0]).toEqual({
        a: {
          count: 3,
          volume: 3,
          lastUsedMs: T0 + MINUTE_MS,
          minutes: [
            [M0, 2, 2],
            [M0 + 1, 1, 1],
          ],
        },
        b: { count: 1, volume: 1, lastUsedMs: T0, minutes: [[M0, 1, 1]] },
      });
      expect(meter.unflushed('a')).toBeNull();
    });

    it('drops the pending usage of a forgotten (deleted) key and writes the others', async () => {
      harness = await meterWith(BUFFERED);
      const { meter, batches } = harness;
      meter.record('gone', 9, T0);
      meter.record('kept', 1, T0);
      meter.forget('gone');
      expect(meter.unflushed('gone')).toBeNull();

      await meter.flush();
      expect(Object.keys(batches[0])).toEqual(['kept']);
    });
  });

  describe('in strict mode (USAGE_FLUSH_INTERVAL_MS=0)', () => {
    it('writes each record immediately as its own batch and keeps nothing pending', async () => {
      harness = await meterWith({ USAGE_FLUSH_INTERVAL_MS: '0' });
      const { meter, addUsage, batches } = harness;
      expect(meter.strict).toBe(true);

      const first = meter.record('a', 10, T0 + 1000);
      expect(first).toBeInstanceOf(Promise);
      expect(addUsage).toHaveBeenCalledTimes(1);
      expect(meter.unflushed('a')).toBeNull();
      await first;
      await meter.record('a', 20, T0 + 2000);
      await meter.flush();

      expect(addUsage).toHaveBeenCalledTimes(2);
      expect(batches).toEqual([
        { a: { count: 1, volume: 10, lastUsedMs: T0 + 1000, minutes: [[M0, 1, 10]] } },
        { a: { count: 1, volume: 20, lastUsedMs: T0 + 2000, minutes: [[M0, 1, 20]] } },
      ]);
    });

    it('passes a failed write on to the caller instead of keeping it', async () => {
      harness = await meterWith({ USAGE_FLUSH_INTERVAL_MS: '0' });
      const { meter, addUsage } = harness;
      addUsage.mockRejectedValueOnce(new Error('disk full'));
      await expect(meter.record('a', 1, T0)).rejects.toThrow('disk full');
      expect(meter.unflushed('a')).toBeNull();
    });

    it('runs no timer', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
      harness = await meterWith({ USAGE_FLUSH_INTERVAL_MS: '0' });
      expect(jest.getTimerCount()).toBe(0);
    });
  });

  describe('drain (run by PrismaService before it disconnects)', () => {
    it('is registered with PrismaService and writes everything pending', async () => {
      harness = await meterWith({ USAGE_FLUSH_INTERVAL_MS: '60000' });
      const { meter, addUsage, batches, beforeDisconnect } = harness;
      meter.record('a', 1, T0);
      meter.record('b', 2, T0);

      await beforeDisconnect();

      expect(addUsage).toHaveBeenCalledTimes(1);
      expect(Object.keys(batches[0]).sort()).toEqual(['a', 'b']);
      expect(meter.unflushed('a')).toBeNull();
    });

    it('waits for a write in flight and then writes what arrived meanwhile', async () => {
      harness = await meterWith({ USAGE_FLUSH_INTERVAL_MS: '60000' });
      const { meter, addUsage, batches } = harness;
      const write = deferred();
      addUsage.mockImplementationOnce(() => write.promise);
      meter.record('a', 1, T0);
      void meter.flush();
      meter.record('a', 2, T0);

      const draining = meter.drain();
      await settle();
      expect(addUsage).toHaveBeenCalledTimes(1);
      write.resolve();
      await draining;

      expect(batches.map((b) => b.a.volume)).toEqual([1, 2]);
      expect(meter.unflushed('a')).toBeNull();
    });

    it('retries after a failed write until everything is written', async () => {
      harness = await meterWith({ USAGE_FLUSH_INTERVAL_MS: '60000' });
      const { meter, addUsage, batches } = harness;
      addUsage
        .mockRejectedValueOnce(new Error('database is locked'))
        .mockRejectedValueOnce(new Error('database is locked'));
      meter.record('a', 3, T0);
      meter.record('b', 4, T0 + 1);

      await meter.drain();

      expect(addUsage).toHaveBeenCalledTimes(3);
      expect(batches[2]).toEqual(batches[0]);
      expect(batches[2]).toEqual({
        a: { count: 1, volume: 3, lastUsedMs: T0, minutes: [[M0, 1, 3]] },
        b: { count: 1, volume: 4, lastUsedMs: T0 + 1, minutes: [[M0, 1, 4]] },
      });
      expect(meter.unflushed('a')).toBeNull();
    });

    it('gives up after five failed attempts, keeps the usage and says how much is unwritten', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
      harness = await meterWith({ USAGE_FLUSH_INTERVAL_MS: '60000' });
      const { meter, addUsage } = harness;
      addUsage.mockImplementation(() => Promise.reject(new Error('gone')));
      meter.record('a', 1, T0);
      meter.record('a', 1, T0 + MINUTE_MS);

      const draining = meter.drain();
      await jest.advanceTimersByTimeAsync(200 + 400 + 600 + 800 + 1000);
      await draining;

      expect(addUsage).toHaveBeenCalledTimes(5);
      expect(meter.unflushed('a')).toMatchObject({ count: 2 });
      expect(loggedErrors).toHaveBeenLastCalledWith(
        'shutting down with 2 minute bucket(s) unwritten',
      );
    });

    it('stops the flush timer', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
      harness = await meterWith({ USAGE_FLUSH_INTERVAL_MS: '1000' });
      const { meter, addUsage } = harness;
      await meter.drain();
      meter.record('a', 1, T0);
      await jest.advanceTimersByTimeAsync(10_000);
      expect(addUsage).not.toHaveBeenCalled();
    });
  });
});
