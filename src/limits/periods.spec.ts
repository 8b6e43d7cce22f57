import fc from 'fast-check';
import { periodAt, QUOTA_PERIODS } from './periods';

const utc = (...parts: [number, number, number, number?, number?]) => Date.UTC(...parts);

describe('periodAt', () => {
  it.each([
    ['day', utc(2026, 11, 3, 15, 30), utc(2026, 11, 3), utc(2026, 11, 4)],
    ['day', utc(2026, 11, 31, 23, 59), utc(2026, 11, 31), utc(2027, 0, 1)],
    ['month', utc(2026, 11, 3), utc(2026, 11, 1), utc(2027, 0, 1)],
    ['month', utc(2028, 1, 29, 12), utc(2028, 1, 1), utc(2028, 2, 1)],
    ['month', utc(2027, 1, 28, 23, 59), utc(2027, 1, 1), utc(2027, 2, 1)],
    ['month', utc(2026, 3, 30), utc(2026, 3, 1), utc(2026, 4, 1)],
  ] as const)('puts %s %s in [%s, %s)', (period, now, start, reset) => {
    expect(periodAt(period, now)).toEqual({ startMs: start, resetMs: reset });
  });

  it('gives the boundary instant to the new period', () => {
    expect(periodAt('month', utc(2027, 2, 1))).toEqual({
      startMs: utc(2027, 2, 1),
      resetMs: utc(2027, 3, 1),
    });
    expect(periodAt('day', utc(2027, 2, 1) - 1).resetMs).toBe(utc(2027, 2, 1));
  });

  it('never resets a total', () => {
    expect(periodAt('total', Date.now())).toEqual({ startMs: 0, resetMs: null });
  });

  it('holds every instant, and periods tile time: each reset is the start of the next', () => {
    const instant = fc.integer({ min: 0, max: utc(2200, 0, 1) });
    fc.assert(
      fc.property(fc.constantFrom('day', 'month'), instant, (period, now) => {
        const { startMs, resetMs } = periodAt(period, now);
        expect(startMs).toBeLessThanOrEqual(now);
        expect(resetMs).toBeGreaterThan(now);
        expect(periodAt(period, resetMs!).startMs).toBe(resetMs);
        expect(periodAt(period, startMs - 1).resetMs).toBe(startMs);
        const days = (resetMs! - startMs) / 86_400_000;
        expect(period === 'day' ? [1] : [28, 29, 30, 31]).toContain(days);
      }),
    );
  });

  it('gives February 29 days exactly in leap years (Gregorian: 2000 yes, 2100 no)', () => {
    for (const year of [1970, 2000, 2024, 2026, 2028, 2100, 2104]) {
      const { startMs, resetMs } = periodAt('month', utc(year, 1, 10));
      const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
      expect((resetMs! - startMs) / 86_400_000).toBe(leap ? 29 : 28);
    }
    expect(QUOTA_PERIODS).toEqual(['day', 'month', 'total']);
  });
});
