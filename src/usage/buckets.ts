/**
 * Bucket arithmetic for usage series: UTC-aligned bucket starts and per-bucket totals. Pure
 * functions on epoch milliseconds, all in UTC.
 */
import { DAY_MS, HOUR_MS, MINUTE_MS, WEEK_MS } from './time';
import type { Interval, UsageRange } from './usage-range';

// 1970-01-01 was a Thursday: the ISO week holding it began on Monday 1969-12-29, three days earlier.
const WEEK_OFFSET_MS = 3 * DAY_MS;

/** Fixed bucket sizes; month is the only interval whose buckets differ in length. */
const FIXED_SIZE_MS: Record<Exclude<Interval, 'month'>, number> = {
  minute: MINUTE_MS,
  hour: HOUR_MS,
  day: DAY_MS,
  week: WEEK_MS,
};

/** UTC-aligned start (epoch ms) of the bucket holding `ms`. */
export function bucketStart(ms: number, interval: Interval): number {
  switch (interval) {
    case 'week':
      return Math.floor((ms + WEEK_OFFSET_MS) / WEEK_MS) * WEEK_MS - WEEK_OFFSET_MS;
    case 'month': {
      const date = new Date(ms);
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
    }
    default: {
      const size = FIXED_SIZE_MS[interval];
      return Math.floor(ms / size) * size;
    }
  }
}

export function nextBucketStart(startMs: number, interval: Interval): number {
  if (interval === 'month') {
    const date = new Date(startMs);
    return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
  }
  return startMs + FIXED_SIZE_MS[interval];
}

function monthOrdinal(ms: number): number {
  const date = new Date(ms);
  return date.getUTCFullYear() * 12 + date.getUTCMonth();
}

export function countBuckets(range: UsageRange): number {
  const { from, to, interval } = range;
  if (interval === 'month') return monthOrdinal(to.getTime()) - monthOrdinal(from.getTime()) + 1;
  const first = bucketStart(from.getTime(), interval);
  const last = bucketStart(to.getTime(), interval);
  return (last - first) / FIXED_SIZE_MS[interval] + 1;
}

/** Ascending bucket starts: the first holds `from`, the last holds `to`. */
export function bucketStarts(range: UsageRange): number[] {
  const count = countBuckets(range);
  const starts = new Array<number>(count);
  let start = bucketStart(range.from.getTime(), range.interval);
  for (let i = 0; i < count; i++) {
    starts[i] = start;
    start = nextBucketStart(start, range.interval);
  }
  return starts;
}

/**
 * Per-bucket sums over a range, zero where nothing was added. A 90-day minute range has ~130,000
 * buckets: responses are written from these arrays, without an object per bucket.
 */
export class BucketTotals {
  readonly length: number;
  private readonly counts: Float64Array;
  private readonly volumes: Float64Array;
  private readonly first: number;
  private readonly end: number;
  /** Fixed bucket size in ms; 0 for months, whose starts are listed instead. */
  private readonly size: number;
  private readonly monthStarts: number[] | null;

  constructor(readonly range: UsageRange) {
    const { interval } = range;
    this.first = bucketStart(range.from.getTime(), interval);
    this.size = interval === 'month' ? 0 : FIXED_SIZE_MS[interval];
    this.monthStarts = interval === 'month' ? bucketStarts(range) : null;
    this.length = countBuckets(range);
    this.end =
      this.size > 0
        ? this.first + this.length * this.size
        : nextBucketStart(this.monthStarts![this.length - 1], interval);
    this.counts = new Float64Array(this.length);
    this.volumes = new Float64Array(this.length);
  }

  /** Adds usage to the bucket holding `startMs`; nothing if no bucket of the range holds it. */
  add(startMs: number, count: number, volume: number): void {
    const index = this.indexOf(startMs);
    if (index < 0) return;
    this.counts[index] += count;
    this.volumes[index] += volume;
  }

  /** The index of the bucket holding `ms`, or -1 if no bucket of the range holds it. */
  indexOf(ms: number): number {
    if (!(ms >= this.first && ms < this.end)) return -1;
    return this.size > 0
      ? Math.floor((ms - this.first) / this.size)
      : lastIndexAtOrBefore(this.monthStarts!, ms);
  }

  /** Start (epoch ms) of bucket `index`. */
  startOf(index: number): number {
    return this.size > 0 ? this.first + index * this.size : this.monthStarts![index];
  }

  countAt(index: number): number {
    return this.counts[index];
  }

  volumeAt(index: number): number {
    return this.volumes[index];
  }
}

/** Binary search in ascending `starts` for the last start <= ms (which must be >= starts[0]). */
function lastIndexAtOrBefore(starts: number[], ms: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (starts[mid] <= ms) low = mid;
    else high = mid - 1;
  }
  return low;
}

/** Inclusive epoch-minute bounds covering every bucket of the range, whole first and last. */
export function minuteRange(range: UsageRange): { fromMinute: number; toMinute: number } {
  const first = bucketStart(range.from.getTime(), range.interval);
  const afterLast = nextBucketStart(
    bucketStart(range.to.getTime(), range.interval),
    range.interval,
  );
  return { fromMinute: first / MINUTE_MS, toMinute: afterLast / MINUTE_MS - 1 };
}

/** The stored rows a usage query reads: minutes, or their hourly rollup. */
export type StoredUnit = 'minute' | 'hour';

export const STORED_UNIT_MINUTES: Record<StoredUnit, number> = { minute: 1, hour: 60 };

/**
 * The coarsest stored rows whose units tile every bucket of `interval` exactly: minutes for
 * minutes, hours for everything else (days, ISO weeks from Monday 00:00 UTC and calendar months
 * are whole UTC hours). 92 days are at most 2,232 hour rows, folded into buckets in memory.
 */
export function storedUnit(interval: Interval): StoredUnit {
  return interval === 'minute' ? 'minute' : 'hour';
}
