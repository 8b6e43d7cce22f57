import { HttpException, HttpStatus } from '@nestjs/common';
import { LRUCache } from 'lru-cache';

/** 429 with the seconds to wait; the error filter turns it into a Retry-After header. */
export class TooManyAttemptsException extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super(
      `too many failed sign-in attempts; try again in ${retryAfterSeconds} s`,
      HttpStatus.TOO_MANY_REQUESTS,
    );
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

interface Window {
  failures: number;
  startedAt: number;
}

/**
 * Counts failed password checks per email and per client address in fixed windows. Once
 * either is over its limit, attempts are refused (before any password hashing) until the window
 * ends. A success clears the email's count. In memory: per instance, bounded by an LRU.
 */
export class LoginThrottle {
  private readonly windows = new LRUCache<string, Window>({ max: 100_000 });

  constructor(private readonly limits: ThrottleLimits = DEFAULT_LIMITS) {}

  /** Throws TooManyAttemptsException when this email or address must wait. */
  check(email: string, address: string, now = Date.now()): void {
    const waits = [
      this.wait(`e:${email}`, this.limits.perEmail, now),
      this.wait(`a:${address}`, this.limits.perAddress, now),
    ];
    const wait = Math.max(...waits);
    if (wait > 0) throw new TooManyAttemptsException(Math.ceil(wait / 1000));
  }

  failed(email: string, address: string, now = Date.now()): void {
    this.bump(`e:${email}`, now);
    this.bump(`a:${address}`, now);
  }

  succeeded(email: string): void {
    this.windows.delete(`e:${email}`);
  }

  private wait(id: string, limit: number, now: number): number {
    const w = this.windows.get(id);
    if (!w || now - w.startedAt >= this.limits.windowMs || w.failures < limit) return 0;
    return this.limits.windowMs - (now - w.startedAt);
  }

  private bump(id: string, now: number): void {
    const w = this.windows.get(id);
    if (!w || now - w.startedAt >= this.limits.windowMs) {
      this.windows.set(id, { failures: 1, startedAt: now });
    } else {
      w.failures++;
    }
  }
}
