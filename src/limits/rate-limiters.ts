import type { RateLimit } from './limits';
import { SlidingWindow, WindowDecision } from './sliding-window';

interface Held {
  window: SlidingWindow;
  /** The limit and window it was built for: a changed limit starts a new window. */
  limit: number;
  windowMs: number;
  lastMs: number;
}

/**
 * One exact sliding window per rate-limited key in use, on this instance. Several instances
 * sharing a database each admit their share of the limit, `floor(limit / instances)` (at least
 * 1), so that together they admit at most the limit in any window when their load is even; the
 * README states the bound. A window unused for longer than its length holds nothing and is
 * dropped by `sweep`, so memory follows the keys in use (8 bytes per admission in the window).
 */
export class RateLimiters {
  private readonly held = new Map<string, Held>();

  /** `instances`: how many instances share the limit now (1 on SQLite). */
  constructor(private readonly instances: () => number = () => 1) {}

  tryAdmit(keyId: string, rate: RateLimit, nowMs: number): WindowDecision {
    const limit = shareOf(rate.limit, this.instances());
    const windowMs = rate.windowSeconds * 1000;
    let held = this.held.get(keyId);
    if (held === undefined || held.windowMs !== windowMs) {
      held = { window: new SlidingWindow(limit, windowMs), limit, windowMs, lastMs: nowMs };
      this.held.set(keyId, held);
    } else if (held.limit !== limit) {
      // A new limit or share keeps the admissions already in the window.
      held.window = held.window.resized(limit);
      held.limit = limit;
    }
    held.lastMs = nowMs;
    return held.window.tryAdmit(nowMs);
  }

  /** Takes back the key's newest admission (its request was refused by the quota after all). */
  unadmit(keyId: string): void {
    this.held.get(keyId)?.window.unadmit();
  }

  /** Drops the windows whose last request is older than their length: they admit anything. */
  sweep(nowMs: number): void {
    for (const [keyId, held] of this.held) {
      if (nowMs - held.lastMs >= held.windowMs) this.held.delete(keyId);
    }
  }

  forget(keyId: string): void {
    this.held.delete(keyId);
  }

  get size(): number {
    return this.held.size;
  }
}

/** This instance's part of a limit shared by `instances`: never 0, so a key is never shut out. */
export function shareOf(limit: number, instances: number): number {
  return Math.max(1, Math.floor(limit / Math.max(1, instances)));
}
