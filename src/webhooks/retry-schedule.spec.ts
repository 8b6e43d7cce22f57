import { nextAttemptAt, RETRY_DELAYS_MS, RETRY_EVERY_MS, RETRY_WINDOW_MS } from './retry-schedule';

const HOUR = 3_600_000;

describe('nextAttemptAt', () => {
  it('waits 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then 2.5 h, without jitter at random 0.5', () => {
    const waits = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => nextAttemptAt(n, 0, 1000, 0.5)! - 1000);
    expect(waits).toEqual([...RETRY_DELAYS_MS, RETRY_EVERY_MS, RETRY_EVERY_MS]);
    expect(waits.slice(0, 6)).toEqual([5_000, 30_000, 120_000, 600_000, 1_800_000, HOUR]);
  });

  it('moves each wait by at most 20 % either way', () => {
    expect(nextAttemptAt(1, 0, 0, 0)).toBe(4_000);
    expect(nextAttemptAt(1, 0, 0, 0.999999)).toBe(6_000);
    expect(nextAttemptAt(2, 0, 0, 0)).toBe(24_000);
  });

  it('makes the last attempt 24 h after the first, then gives up', () => {
    const first = 1_000_000;
    expect(nextAttemptAt(12, first, first + 23 * HOUR, 0.5)).toBe(first + RETRY_WINDOW_MS);
    expect(nextAttemptAt(13, first, first + RETRY_WINDOW_MS, 0.5)).toBeNull();
  });

  it('tries about 16 times in 24 h', () => {
    const first = 0;
    let now = first;
    let attempts = 1;
    for (let next = nextAttemptAt(attempts, first, now, 0.5); next !== null; attempts++) {
      now = next;
      next = nextAttemptAt(attempts + 1, first, now, 0.5);
    }
    expect(now).toBe(RETRY_WINDOW_MS);
    expect(attempts).toBe(16);
  });
});
