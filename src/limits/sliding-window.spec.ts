import fc from 'fast-check';
import { SlidingWindow } from './sliding-window';

/** Arrival times: non-decreasing, with bursts (0 ms apart) and gaps. */
const arrivals = fc
  .array(
    fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 3000 })),
    {
      minLength: 1,
      maxLength: 300,
    },
  )
  .map((gaps) => {
    let t = 1_000_000;
    return gaps.map((gap) => (t += gap));
  });

const admittedIn = (admitted: number[], from: number, to: number) =>
  admitted.filter((t) => t > from && t <= to).length;

describe('SlidingWindow', () => {
  it('admits a burst of exactly the limit, then refuses until the first admission leaves', () => {
    const w = new SlidingWindow(3, 1000);
    expect([0, 0, 0].map(() => w.tryAdmit(10).admitted)).toEqual([true, true, true]);
    expect(w.tryAdmit(10)).toEqual({
      admitted: false,
      remaining: 0,
      retryAfterMs: 1000,
      resetMs: 1000,
    });
    expect(w.tryAdmit(1009).admitted).toBe(false);
    // All three are 1000 ms old at 1010: out of the window, so two places are left after this.
    expect(w.tryAdmit(1010)).toMatchObject({ admitted: true, remaining: 2 });
  });

  it('never admits more than the limit in any window, and refuses only when the window is full', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 17, max: 80 })),
        fc.integer({ min: 1, max: 2000 }),
        arrivals,
        (limit, windowMs, times) => {
          const w = new SlidingWindow(limit, windowMs);
          const admitted: number[] = [];
          for (const t of times) {
            const decision = w.tryAdmit(t);
            const before = admittedIn(admitted, t - windowMs, t);
            // Exactly when the trailing window already holds `limit` admissions: never more
            // (exactness), never refused with room left (no false refusals).
            expect(decision.admitted).toBe(before < limit);
            if (decision.admitted) {
              admitted.push(t);
              expect(decision.remaining).toBe(limit - before - 1);
            } else {
              // The wait is exact: then there is room, one millisecond before there is not.
              const retry = t + decision.retryAfterMs;
              expect(admittedIn(admitted, retry - windowMs, retry)).toBeLessThan(limit);
              expect(admittedIn(admitted, retry - 1 - windowMs, retry - 1)).toBe(limit);
            }
          }
        },
      ),
    );
  });

  it('counts an instant before the last one seen (the clock set back) as the last one', () => {
    const w = new SlidingWindow(1, 1000);
    expect(w.tryAdmit(5000).admitted).toBe(true);
    expect(w.tryAdmit(100).admitted).toBe(false);
    expect(w.tryAdmit(5999).admitted).toBe(false);
    expect(w.tryAdmit(6000).admitted).toBe(true);
  });

  it('refuses a limit below 1 or a window that is not positive', () => {
    expect(() => new SlidingWindow(0, 1000)).toThrow(RangeError);
    expect(() => new SlidingWindow(1.5, 1000)).toThrow(RangeError);
    expect(() => new SlidingWindow(1, 0)).toThrow(RangeError);
  });
});

describe('SlidingWindow.resized', () => {
  it('keeps the admissions in the window when the limit changes', () => {
    const window = new SlidingWindow(100, 1000);
    for (let t = 0; t < 100; t++) expect(window.tryAdmit(t).admitted).toBe(true);
    // Halved (a second instance joined): the window already holds more than the new limit.
    const halved = window.resized(50);
    expect(halved.tryAdmit(500).admitted).toBe(false);
    // The newest 50 kept (t = 50..99) leave the window one by one.
    expect(halved.tryAdmit(1050).admitted).toBe(true);
    expect(halved.tryAdmit(1050).admitted).toBe(false);
    const grown = halved.resized(200);
    // In the window at 1051: t = 52..99, 1050 and 1051 itself.
    expect(grown.tryAdmit(1051).remaining).toBe(200 - 50);
  });
});
