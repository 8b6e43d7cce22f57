import { BucketTotals } from '../../src/usage/buckets';
import { DAY_MS, MINUTE_MS, minuteOfDayTexts } from '../../src/usage/time';
import type { UsageRange } from '../../src/usage/usage-range';

/** Usage summed at some instant, not necessarily an aligned bucket start (epoch ms). */
export interface BucketRow {
  start: number;
  count: number;
  volume: number;
}

/** One bucket of a usage answer, as the API writes it. */
export interface UsagePoint {
  bucket: string;
  volume: number;
  count: number;
}

/**
 * The points a usage answer holds, built the plain way: the expected side of the specs that
 * check usageBody's hand-written bytes. Times come from the shared table (a 90-day minute series
 * is ~130,000 toISOString calls otherwise).
 */
export function pointsOf(totals: BucketTotals): UsagePoint[] {
  const times = minuteOfDayTexts();
  const points = new Array<UsagePoint>(totals.length);
  for (let i = 0; i < totals.length; i++) {
    const start = totals.startOf(i);
    const dayStart = Math.floor(start / DAY_MS) * DAY_MS;
    points[i] = {
      bucket: new Date(dayStart).toISOString().slice(0, 11) + times[(start - dayStart) / MINUTE_MS],
      volume: totals.volumeAt(i),
      count: totals.countAt(i),
    };
  }
  return points;
}

/**
 * One point per bucket of the range, zeros where no row falls: rows are summed into the bucket
 * holding their `start`, and rows outside every bucket are ignored.
 */
export function zeroFill(range: UsageRange, rows: BucketRow[]): UsagePoint[] {
  const totals = new BucketTotals(range);
  for (const row of rows) totals.add(row.start, row.count, row.volume);
  return pointsOf(totals);
}
