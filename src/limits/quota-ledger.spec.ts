import fc from 'fast-check';
import type { Quota } from './limits';
import { EXHAUSTED_RECHECK_MS, QuotaLedger, QuotaStore, sliceOf } from './quota-ledger';
import type { LeaseGrant, LeaseRequest } from './quota.repository';

/**
 * The counters' one statement, as QuotaRepository's SQL computes it: a grant never takes them
 * past the allowance, and a volume slice smaller than the body needed is not taken.
 */
class CountersInMemory implements QuotaStore {
  readonly rows = new Map<string, { requests: number; volume: number }>();
  statements = 0;

  lease(ask: LeaseRequest): Promise<LeaseGrant> {
    this.statements++;
    const id = `${ask.keyId}@${ask.periodStart}`;
    const row = this.rows.get(id) ?? { requests: 0, volume: 0 };
    const requests = Math.max(0, Math.min(ask.requests, ask.requestsLimit - row.requests));
    const volume =
      ask.volumeLimit - row.volume >= ask.volumeNeeded
        ? Math.max(0, Math.min(ask.volume, ask.volumeLimit - row.volume))
        : 0;
    row.requests += requests;
    row.volume += volume;
    this.rows.set(id, row);
    // Resolved later, as a database would: requests meanwhile must wait for it.
    return new Promise((resolve) =>
      setImmediate(() =>
        resolve({ requests, volume, requestsTaken: row.requests, volumeTaken: row.volume }),
      ),
    );
  }

  handBack(keyId: string, periodStart: number, requests: number, volume: number): Promise<void> {
    this.statements++;
    const row = this.rows.get(`${keyId}@${periodStart}`);
    if (row) {
      row.requests -= requests;
      row.volume -= volume;
    }
    return Promise.resolve();
  }
}

const DAY = Date.UTC(2028, 1, 29, 12);

async function admittedOf(decisions: unknown[]): Promise<number> {
  const settled = await Promise.all(decisions);
  return settled.filter((d) => (d as { admitted: boolean }).admitted).length;
}

describe(QuotaLedger.name, () => {
  it('admits exactly N of any number of concurrent requests, over several ledgers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 900 }),
        async (limit, instances, requests) => {
          const store = new CountersInMemory();
          const ledgers = Array.from({ length: instances }, () => new QuotaLedger(store));
          const quota: Quota = { requests: limit, volumeBytes: null, period: 'day' };
          const decisions = Array.from({ length: requests }, (_, i) =>
            ledgers[i % instances].take('k', quota, 0, DAY),
          );
          const admitted = await admittedOf(decisions);
          expect(admitted).toBeLessThanOrEqual(limit);
          // Busy to the end, the ledgers serve every slice: nothing is left unused.
          if (requests >= limit + instances * sliceOf(limit, 1000)) expect(admitted).toBe(limit);
          await Promise.all(ledgers.map((l) => l.handBackIdle(DAY, true)));
          expect(store.rows.get(`k@${Date.UTC(2028, 1, 29)}`)?.requests ?? 0).toBe(admitted);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('never lets the bytes pass a volume quota; a body larger than what is left is refused', async () => {
    const store = new CountersInMemory();
    const ledger = new QuotaLedger(store);
    const quota: Quota = { requests: null, volumeBytes: 1000, period: 'month' };
    const sizes = [400, 400, 300, 150, 50, 1];
    const results = [];
    for (const size of sizes) results.push(await ledger.take('k', quota, size, DAY));
    expect(results.map((r) => r.admitted)).toEqual([true, true, false, true, true, false]);
    expect(results[4].remainingVolume).toBe(0);
  });

  it('refuses without asking the database again until the recheck, then asks', async () => {
    const store = new CountersInMemory();
    const ledger = new QuotaLedger(store);
    const quota: Quota = { requests: 2, volumeBytes: null, period: 'total' };
    await ledger.take('k', quota, 0, DAY);
    await ledger.take('k', quota, 0, DAY);
    expect((await ledger.take('k', quota, 0, DAY)).admitted).toBe(false);
    const asked = store.statements;
    expect((await ledger.take('k', quota, 0, DAY + 10)).admitted).toBe(false);
    expect(store.statements).toBe(asked);
    await ledger.take('k', quota, 0, DAY + EXHAUSTED_RECHECK_MS + 1);
    expect(store.statements).toBe(asked + 1);
    // Still exhausted: the next recheck waits twice as long.
    const later = DAY + EXHAUSTED_RECHECK_MS + 1;
    await ledger.take('k', quota, 0, later + 2 * EXHAUSTED_RECHECK_MS - 1);
    expect(store.statements).toBe(asked + 1);
    await ledger.take('k', quota, 0, later + 2 * EXHAUSTED_RECHECK_MS);
    expect(store.statements).toBe(asked + 2);
  });

  it('starts a new allowance at the period boundary (UTC midnight of a leap day)', async () => {
    const store = new CountersInMemory();
    const ledger = new QuotaLedger(store);
    const quota: Quota = { requests: 1, volumeBytes: null, period: 'day' };
    const midnight = Date.UTC(2028, 2, 1);
    expect((await ledger.take('k', quota, 0, midnight - 1)).admitted).toBe(true);
    expect((await ledger.take('k', quota, 0, midnight - 1)).admitted).toBe(false);
    const next = await ledger.take('k', quota, 0, midnight);
    expect(next).toEqual({
      admitted: true,
      remainingRequests: 0,
      remainingVolume: null,
      resetMs: Date.UTC(2028, 2, 2),
    });
  });

  it('leases a twentieth of the allowance, at least 1 and at most the cap', () => {
    expect(sliceOf(1, 1000)).toBe(1);
    expect(sliceOf(10_000, 1000)).toBe(500);
    expect(sliceOf(1e9, 1000)).toBe(1000);
  });
});
