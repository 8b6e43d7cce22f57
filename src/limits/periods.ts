import { DAY_MS } from '../usage/time';

/** What a quota's allowance is per: a UTC calendar day, a UTC calendar month, or ever. */
export type QuotaPeriod = 'day' | 'month' | 'total';

export const QUOTA_PERIODS: readonly QuotaPeriod[] = ['day', 'month', 'total'];

/** The period holding an instant: when it began and when the allowance resets (never: null). */
export interface PeriodWindow {
  startMs: number;
  resetMs: number | null;
}

/**
 * The quota period holding `nowMs`. Days and months are UTC calendar ones, so every instance
 * (and every time zone) agrees on where a period ends: a month is 28 to 31 days, February has
 * 29 in leap years, and the instant of the boundary belongs to the new period.
 */
export function periodAt(period: QuotaPeriod, nowMs: number): PeriodWindow {
  if (period === 'total') return { startMs: 0, resetMs: null };
  if (period === 'day') {
    const startMs = Math.floor(nowMs / DAY_MS) * DAY_MS;
    return { startMs, resetMs: startMs + DAY_MS };
  }
  const now = new Date(nowMs);
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  return { startMs: Date.UTC(year, month, 1), resetMs: Date.UTC(year, month + 1, 1) };
}
