/** What the limiter answered for one request. */
export interface WindowDecision {
  admitted: boolean;
  /** Admissions left in the window ending now, after this one. */
  remaining: number;
  /** Milliseconds until the next request would be admitted (0 when one would be now). */
  retryAfterMs: number;
  /** Milliseconds until the whole allowance is back (the newest admission leaves the window). */
  resetMs: number;
}

/**
 * An exact sliding-window rate limit: at most `limit` admissions in any window of `windowMs`,
 * not an approximation from fixed windows (which lets through up to twice the limit across a
 * boundary) nor GCRA (which paces after a burst and so admits up to 2 × limit - 1 in some window
 * of that length). It keeps the times of the last `limit` admissions in a ring: a request is
 * admitted when fewer than `limit` of them are younger than `windowMs`, that is when the oldest
 * kept admission has left the window. Memory: 8 bytes per admission kept (at most the limit),
 * per limited key in use.
 *
 * Time only moves forward here: an instant earlier than the last one seen (the wall clock set
 * back) counts as that last one, so a clock change can neither free nor hold back admissions.
 */
/** Admissions a new window has room for before its ring first grows. */
const INITIAL_RING = 16;

export class SlidingWindow {
  /** A ring of the kept admissions, grown (doubled) up to `limit` as they arrive. */
  private times: Float64Array;
  /** Index of the oldest kept admission. */
  private head = 0;
  private size = 0;
  private lastMs = -Infinity;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be at least 1');
    if (!(windowMs > 0)) throw new RangeError('windowMs must be positive');
    this.times = new Float64Array(Math.min(limit, INITIAL_RING));
  }

  /** Admits a request at `nowMs` if the window allows it, and records it if so. */
  tryAdmit(nowMs: number): WindowDecision {
    const now = Math.max(nowMs, this.lastMs);
    this.lastMs = now;
    if (this.size === this.limit) {
      const oldest = this.times[this.head];
      if (now - oldest < this.windowMs) {
        return {
          admitted: false,
          remaining: 0,
          retryAfterMs: oldest + this.windowMs - now,
          resetMs: this.newest() + this.windowMs - now,
        };
      }
      this.head = (this.head + 1) % this.times.length;
      this.size--;
    }
    if (this.size === this.times.length) this.grow();
    this.times[(this.head + this.size) % this.times.length] = now;
    this.size++;
    const inWindow = this.countSince(now - this.windowMs);
    const remaining = this.limit - inWindow;
    return {
      admitted: true,
      remaining,
      retryAfterMs: remaining > 0 ? 0 : this.oldestInWindow(now) + this.windowMs - now,
      resetMs: this.windowMs,
    };
  }

  /**
   * Takes back the newest admission: the request it admitted was refused after all (by its
   * quota), and a refused request must not use up the rate limit.
   */
  unadmit(): void {
    if (this.size > 0) this.size--;
  }

  /**
   * The same admissions under another limit: the newest `limit` of them are kept, so that a
   * share that changes (an instance joins or leaves) does not forget the window's admissions.
   */
  resized(limit: number): SlidingWindow {
    const next = new SlidingWindow(limit, this.windowMs);
    const kept = Math.min(this.size, limit);
    for (let i = this.size - kept; i < this.size; i++) {
      next.record(this.times[(this.head + i) % this.times.length]);
    }
    next.lastMs = this.lastMs;
    return next;
  }

  /** Appends an admission (the ring has room: at most `limit` are ever kept). */
  private record(atMs: number): void {
    if (this.size === this.times.length) this.grow();
    this.times[(this.head + this.size) % this.times.length] = atMs;
    this.size++;
  }

  /** Doubles the ring, up to `limit`, keeping the admissions in time order from index 0. */
  private grow(): void {
    const grown = new Float64Array(Math.min(this.limit, this.times.length * 2));
    for (let i = 0; i < this.size; i++) grown[i] = this.times[(this.head + i) % this.times.length];
    this.times = grown;
    this.head = 0;
  }

  private newest(): number {
    return this.times[(this.head + this.size - 1) % this.times.length];
  }

  /** The kept admissions later than `afterMs` (the ring is in time order: binary search). */
  private countSince(afterMs: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times[(this.head + mid) % this.times.length] > afterMs) hi = mid;
      else lo = mid + 1;
    }
    return this.size - lo;
  }

  private oldestInWindow(now: number): number {
    return this.times[
      (this.head + this.size - this.countSince(now - this.windowMs)) % this.times.length
    ];
  }
}
