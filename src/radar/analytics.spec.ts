import fc from 'fast-check';
import { KeyUsageSummary, computeAnalytics } from './analytics';

let sequence = 0;
function key(overrides: Partial<KeyUsageSummary> = {}): KeyUsageSummary {
  sequence += 1;
  return {
    id: `00000000-0000-4000-8000-${String(sequence).padStart(12, '0')}`,
    name: `key ${sequence}`,
    usageCount: 0,
    lastUsedAt: null,
    isActive: true,
    createdAt: new Date(Date.UTC(2024, 0, 1, 0, 0, sequence)),
    isMaster: false,
    ...overrides,
  };
}

describe(computeAnalytics.name, () => {
  it('gives zeros and no most or least used key for no keys', () => {
    expect(computeAnalytics([])).toEqual({
      totalApiKeys: 0,
      totalUsage: 0,
      activeApiKeys: 0,
      inactiveApiKeys: 0,
      mostUsedApiKey: null,
      leastUsedApiKey: null,
      averageUsagePerKey: 0,
      apiKeyDetails: [],
    });
  });

  it('matches the shape and field order of the Radar document', () => {
    const used = new Date('2024-01-01T12:00:00Z');
    const created = new Date('2024-01-01T00:00:00Z');
    const only = key({
      id: 'uuid',
      name: 'Key Name',
      usageCount: 42,
      lastUsedAt: used,
      createdAt: created,
    });
    const result = computeAnalytics([only]);
    expect(JSON.parse(JSON.stringify(result))).toEqual({
      totalApiKeys: 1,
      totalUsage: 42,
      activeApiKeys: 1,
      inactiveApiKeys: 0,
      mostUsedApiKey: {
        id: 'uuid',
        name: 'Key Name',
        usageCount: 42,
        lastUsedAt: '2024-01-01T12:00:00.000Z',
      },
      leastUsedApiKey: {
        id: 'uuid',
        name: 'Key Name',
        usageCount: 42,
        lastUsedAt: '2024-01-01T12:00:00.000Z',
      },
      averageUsagePerKey: 42,
      apiKeyDetails: [
        {
          id: 'uuid',
          name: 'Key Name',
          usageCount: 42,
          lastUsedAt: '2024-01-01T12:00:00.000Z',
          isActive: true,
          createdAt: '2024-01-01T00:00:00.000Z',
        },
      ],
    });
    expect(Object.keys(result)).toEqual([
      'totalApiKeys',
      'totalUsage',
      'activeApiKeys',
      'inactiveApiKeys',
      'mostUsedApiKey',
      'leastUsedApiKey',
      'averageUsagePerKey',
      'apiKeyDetails',
    ]);
    expect(Object.keys(result.mostUsedApiKey ?? {})).toEqual([
      'id',
      'name',
      'usageCount',
      'lastUsedAt',
    ]);
    expect(Object.keys(result.apiKeyDetails[0])).toEqual([
      'id',
      'name',
      'usageCount',
      'lastUsedAt',
      'isActive',
      'createdAt',
    ]);
  });

  it('reproduces the document example: 5 keys, 150 uses, 4 active, 75 most, 5 least, 30 average', () => {
    const most = key({ name: 'Most Used Key', usageCount: 75 });
    const least = key({ name: 'Least Used Key', usageCount: 5 });
    const keys = [
      key({ usageCount: 30 }),
      most,
      least,
      key({ usageCount: 20, isActive: false }),
      key({ usageCount: 20 }),
    ];
    const result = computeAnalytics(keys);
    expect(result).toMatchObject({
      totalApiKeys: 5,
      totalUsage: 150,
      activeApiKeys: 4,
      inactiveApiKeys: 1,
      mostUsedApiKey: { id: most.id, name: 'Most Used Key', usageCount: 75 },
      leastUsedApiKey: { id: least.id, name: 'Least Used Key', usageCount: 5 },
      averageUsagePerKey: 30,
    });
  });

  it('counts an expired key (or a rolled one past its grace) as inactive, from its instant on', () => {
    const now = Date.UTC(2026, 11, 3);
    const keys = [
      key({ id: 'a', expiresAt: new Date(now) }),
      key({ id: 'b', expiresAt: new Date(now + 1) }),
      key({ id: 'c' }),
      key({ id: 'd', isActive: false, expiresAt: new Date(now + 1) }),
    ];
    const stats = computeAnalytics(keys, now);
    expect(stats).toMatchObject({ activeApiKeys: 2, inactiveApiKeys: 2 });
    expect(stats.apiKeyDetails.map((d) => d.isActive)).toEqual([false, true, true, false]);
  });

  it('keeps dates as Date objects and null for a key never used', () => {
    const used = new Date('2024-02-02T02:02:02Z');
    const result = computeAnalytics([key({ lastUsedAt: used }), key()]);
    expect(result.apiKeyDetails[0].lastUsedAt).toEqual(used);
    expect(result.apiKeyDetails[0].createdAt).toBeInstanceOf(Date);
    expect(result.apiKeyDetails[1].lastUsedAt).toBeNull();
  });

  it('keeps the master key and the input order in the details', () => {
    const master = key({ isMaster: true, usageCount: 1 });
    const keys = [key(), master, key()];
    expect(computeAnalytics(keys).apiKeyDetails.map((detail) => detail.id)).toEqual(
      keys.map((k) => k.id),
    );
  });

  it('rounds the average to two decimals, halves up', () => {
    const average = (...counts: number[]): number =>
      computeAnalytics(counts.map((usageCount) => key({ usageCount }))).averageUsagePerKey;
    expect(average(1, 0, 0)).toBe(0.33);
    expect(average(2, 0, 0)).toBe(0.67);
    expect(average(10, 0, 0)).toBe(3.33);
    expect(average(1, 0, 0, 0, 0, 0, 0, 0)).toBe(0.13); // 0.125
    expect(average(201, ...Array<number>(199).fill(0))).toBe(1.01); // 1.005, where toFixed gives 1.00
  });

  it('picks the earlier-created key among equally most or least used keys', () => {
    const older = key({ usageCount: 7, createdAt: new Date('2024-01-01') });
    const newer = key({ usageCount: 7, createdAt: new Date('2024-06-01') });
    for (const keys of [
      [newer, older],
      [older, newer],
    ]) {
      const result = computeAnalytics(keys);
      expect(result.mostUsedApiKey?.id).toBe(older.id);
      expect(result.leastUsedApiKey?.id).toBe(older.id);
    }
  });

  it('breaks a tie of usage and creation time by the smaller id', () => {
    const createdAt = new Date('2024-01-01');
    const a = key({ id: 'a', usageCount: 3, createdAt });
    const b = key({ id: 'b', usageCount: 3, createdAt });
    expect(computeAnalytics([b, a]).mostUsedApiKey?.id).toBe('a');
    expect(computeAnalytics([b, a]).leastUsedApiKey?.id).toBe('a');
  });

  it('for any keys, counts consistently and picks keys that hold the extremes, whatever the order', () => {
    const arbitraryKey = fc.record({
      id: fc.uuid(),
      name: fc.string({ minLength: 1, maxLength: 10 }),
      usageCount: fc.nat({ max: 5 }),
      lastUsedAt: fc.option(fc.date({ noInvalidDate: true }), { nil: null }),
      isActive: fc.boolean(),
      createdAt: fc.date({ min: new Date(0), max: new Date('2030-01-01'), noInvalidDate: true }),
      isMaster: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(arbitraryKey, { selector: (k) => k.id, maxLength: 20 }),
        fc.func(fc.integer()),
        (keys, shuffleKey) => {
          const result = computeAnalytics(keys);
          const counts = keys.map((k) => k.usageCount);
          const total = counts.reduce((sum, count) => sum + count, 0);
          expect(result.totalApiKeys).toBe(keys.length);
          expect(result.totalUsage).toBe(total);
          expect(result.activeApiKeys + result.inactiveApiKeys).toBe(keys.length);
          expect(result.apiKeyDetails).toHaveLength(keys.length);
          if (keys.length === 0) {
            expect(result.mostUsedApiKey).toBeNull();
            expect(result.leastUsedApiKey).toBeNull();
            return;
          }
          expect(result.mostUsedApiKey?.usageCount).toBe(Math.max(...counts));
          expect(result.leastUsedApiKey?.usageCount).toBe(Math.min(...counts));
          expect(Math.abs(result.averageUsagePerKey - total / keys.length)).toBeLessThanOrEqual(
            0.005 + 1e-9,
          );
          const shuffled = [...keys].sort((x, y) => shuffleKey(x.id) - shuffleKey(y.id));
          const reordered = computeAnalytics(shuffled);
          expect(reordered.mostUsedApiKey).toEqual(result.mostUsedApiKey);
          expect(reordered.leastUsedApiKey).toEqual(result.leastUsedApiKey);
        },
      ),
      { numRuns: 200 },
    );
  });
});
