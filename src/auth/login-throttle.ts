import { HttpException, HttpStatus } from '@nestjs/common';
import { LRUCache } from 'lru-cache';

/** 429 with the seconds to wait; the error filter turns it into a Retry-After header. */
export class TooManyAttemptsException extends HttpException {
  constructor(
    readonly retryAfterSeconds: number,
    what = 'failed sign-in attempts',
  ) {
    super(`too many ${what}; try again in ${retryAfterSeconds} s`, HttpStatus.TOO_MANY_REQUESTS);
  }
}

export interface ThrottleLimits {
  perEmail: number;
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_LIMITS: ThrottleLimits = {
  perEmail: 10,
  perAddress: 50,
  windowMs: 15 * 60_000,
};

/**
 * How long an attempt refused only because others are still in flight waits: a password check
 * takes tens of milliseconds, so by then they have counted or been cleared.
 */
export const IN_FLIGHT_WAIT_MS = 1000;

interface Window {
  counted: number;
  inFlight: number;
  startedAt: number;
}

/**
 * Attempts per id (an email, an address) in fixed windows, where an attempt is reserved before
 * the work it stands for and counted or released after it. Attempts in flight count against the
 * limit, so N concurrent attempts cannot all pass a check that only one of them would: at most
 * `limit` are ever let through per window. In memory, per instance, bounded by an LRU.
 */
export class AttemptWindows {
  private readonly windows = new LRUCache<string, Window>({ max: 100_000 });

  /**
   * `everyAttemptCounts`: attempts in flight will all be counted (as registrations are), so a
   * window they fill is full until it ends; otherwise they may yet be cleared (a success).
   */
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly everyAttemptCounts = false,
  ) {}

  /** Milliseconds until `id` may try again; 0 when it may now. */
  wait(id: string, now: number): number {
    const w = this.current(id, now);
    if (!w || w.counted + w.inFlight < this.limit) return 0;
    if (w.counted >= this.limit || this.everyAttemptCounts) {
      return this.windowMs - (now - w.startedAt);
    }
    return IN_FLIGHT_WAIT_MS;
  }

  /** Whether `id`'s window is full until it ends (not only held by attempts in flight). */
  filled(id: string, now: number): boolean {
    const w = this.current(id, now);
    if (!w) return false;
    return (
      w.counted >= this.limit || (this.everyAttemptCounts && w.counted + w.inFlight >= this.limit)
    );
  }

  /** Holds a place for an attempt that passed `wait`; settle it with `release`. */
  reserve(id: string, now: number): void {
    let w = this.current(id, now);
    if (!w) {
      w = { counted: 0, inFlight: 0, startedAt: now };
      this.windows.set(id, w);
    }
    w.inFlight++;
  }

  /** Ends a reserved attempt: `count` it against the window or let its place go. */
  release(id: string, count: boolean): void {
    const w = this.windows.get(id);
    if (!w) return;
    w.inFlight = Math.max(0, w.inFlight - 1);
    if (count) w.counted++;
  }

  /** Forgets what `id` counted (attempts still in flight keep their places). */
  clear(id: string): void {
    const w = this.windows.get(id);
    if (w) w.counted = 0;
  }

  private current(id: string, now: number): Window | undefined {
    const w = this.windows.get(id);
    if (!w || now - w.startedAt < this.windowMs) return w;
    if (w.inFlight === 0) {
      this.windows.delete(id);
      return undefined;
    }
    w.counted = 0;
    w.startedAt = now;
    return w;
  }
}

/** One reserved sign-in attempt: it ends as a failure (counted), a success, or abandoned. */
export interface SignInAttempt {
  failed(): void;
  succeeded(): void;
  /** The check could not be made (a database error): the place is freed, nothing counted. */
  abandoned(): void;
}

/** How long an attempt waits for a place held by attempts in flight before it is refused. */
export const MAX_PLACE_WAIT_MS = 10_000;

/**
 * Failed password checks per email and per client address. An attempt is reserved before the
 * password is verified, so parallel attempts cannot outrun the limits: at most `perEmail`
 * checks run per window for one email and `perAddress` for one address, under any
 * concurrency. An attempt that finds the places taken by checks still running waits for one
 * (they may succeed: a backend sending its account's password on every Radar call in parallel
 * is not refused); once the failures alone fill a window, attempts are refused (before any
 * password hashing) until it ends. A success clears the email's count.
 */
export class LoginThrottle {
  private readonly emails: AttemptWindows;
  private readonly addresses: AttemptWindows;
  /** Attempts waiting for a place: woken to look again whenever an attempt settles. */
  private waiting: (() => void)[] = [];

  constructor(limits: ThrottleLimits = DEFAULT_LIMITS) {
    this.emails = new AttemptWindows(limits.perEmail, limits.windowMs);
    this.addresses = new AttemptWindows(limits.perAddress, limits.windowMs);
  }

  /** Reserves an attempt, or throws TooManyAttemptsException when this email or address must wait. */
  async reserve(email: string, address: string, clock = Date.now): Promise<SignInAttempt> {
    const deadline = clock() + MAX_PLACE_WAIT_MS;
    for (;;) {
      const now = clock();
      const wait = Math.max(this.emails.wait(email, now), this.addresses.wait(address, now));
      if (wait === 0) break;
      const filled = this.emails.filled(email, now) || this.addresses.filled(address, now);
      if (filled || now >= deadline) {
        throw new TooManyAttemptsException(Math.ceil(wait / 1000));
      }
      await new Promise<void>((resolve) => {
        // Unreferenced: a waiting attempt holds its request open, not the process.
        const timer = setTimeout(resolve, deadline - now).unref();
        this.waiting.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const now = clock();
    this.emails.reserve(email, now);
    this.addresses.reserve(address, now);
    let settled = false;
    const settle = (outcome: 'failed' | 'succeeded' | 'abandoned') => {
      if (settled) return;
      settled = true;
      this.emails.release(email, outcome === 'failed');
      this.addresses.release(address, outcome === 'failed');
      if (outcome === 'succeeded') this.emails.clear(email);
      const waiting = this.waiting;
      this.waiting = [];
      for (const wake of waiting) wake();
    };
    return {
      failed: () => settle('failed'),
      succeeded: () => settle('succeeded'),
      abandoned: () => settle('abandoned'),
    };
  }
}
