/**
 * Time-range parsing and bucket arithmetic for usage queries. Pure functions on epoch
 * milliseconds, all in UTC: the process time zone never matters.
 */

export const INTERVALS = ['minute', 'hour', 'day', 'week', 'month'] as const;
export type Interval = (typeof INTERVALS)[number];

export const MAX_RANGE_DAYS = 92;
export const DEFAULT_RANGE_DAYS = 90;

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const WEEK_MS = 7 * DAY_MS;
// 1970-01-01 was a Thursday: the ISO week holding it began on Monday 1969-12-29, three days earlier.
const WEEK_OFFSET_MS = 3 * DAY_MS;

const MIN_INSTANT_MS = 0; // 1970-01-01T00:00:00.000Z
const MAX_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Fixed bucket sizes; month is the only interval whose buckets differ in length. */
const FIXED_SIZE_MS: Record<Exclude<Interval, 'month'>, number> = {
  minute: MINUTE_MS,
  hour: HOUR_MS,
  day: DAY_MS,
  week: WEEK_MS,
};

/** A bad `from`/`to`/`interval`; the message says what to fix and is safe to show to the caller. */
export class UsageRangeError extends Error {
  override readonly name = 'UsageRangeError';
}

export interface UsageRange {
  from: Date;
  to: Date;
  interval: Interval;
}

export interface BucketRow {
  /** Epoch ms; need not be an aligned bucket start. */
  start: number;
  count: number;
  volume: number;
}

export interface UsagePoint {
  bucket: string;
  volume: number;
  count: number;
}

export function isInterval(value: string): value is Interval {
  return (INTERVALS as readonly string[]).includes(value);
}

export function parseUsageRange(
  query: { from?: string; to?: string; interval?: string },
  now: Date,
): UsageRange {
  const interval = parseInterval(query.interval);
  const to = query.to !== undefined ? parseIsoInstant(query.to, 'to') : new Date(now.getTime());
  const from =
    query.from !== undefined
      ? parseIsoInstant(query.from, 'from')
      : new Date(to.getTime() - DEFAULT_RANGE_DAYS * DAY_MS);

  if (from.getTime() > to.getTime()) {
    const hint = query.to !== undefined ? '' : ` (to defaults to now, ${to.toISOString()})`;
    throw new UsageRangeError(`from must be before to${hint}`);
  }
  const spanMs = to.getTime() - from.getTime();
  if (spanMs > MAX_RANGE_DAYS * DAY_MS) {
    const days = Math.round((spanMs / DAY_MS) * 100) / 100;
    throw new UsageRangeError(
      `the range may span at most ${MAX_RANGE_DAYS} days; from and to are ${days} days apart`,
    );
  }
  return { from, to, interval };
}

function parseInterval(value: string | undefined): Interval {
  if (value === undefined) return 'day';
  if (typeof value === 'string' && isInterval(value)) return value;
  throw new UsageRangeError(
    `interval must be one of ${INTERVALS.join(', ')}; got "${describeValue(value)}"`,
  );
}

// Date, optionally followed by a time (minutes required, seconds and fraction optional) and a zone.
// A space before hh:mm is read as '+': an unencoded '+' in a query string arrives as a space.
const ISO_INSTANT =
  /^(\d{4,})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+\- ]\d{2}(?::?\d{2})?)?)?$/;

const FORMAT_HINT = 'use a date like 2021-01-19 or a date-time like 2021-01-19T00:00:00Z';
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/**
 * Parses an ISO-8601 instant strictly. A date alone means 00:00:00 UTC, a date-time without a
 * zone is UTC. Impossible dates and times are rejected instead of rolled over as `Date` would.
 */
export function parseIsoInstant(value: string, field: string): Date {
  if (typeof value !== 'string') {
    throw new UsageRangeError(`${field} must be given once, as an ISO-8601 date; ${FORMAT_HINT}`);
  }
  if (value.trim() === '') {
    throw new UsageRangeError(`${field} must not be empty; ${FORMAT_HINT}`);
  }
  const match = ISO_INSTANT.exec(value);
  if (!match) throw invalidInstant(field, value, FORMAT_HINT);

  const [, yearText, monthText, dayText, hourText, minuteText, secondText, fraction, zone] = match;
  const year = Number(yearText);
  const month = Number(monthText);
  const day = Number(dayText);
  const hour = hourText === undefined ? 0 : Number(hourText);
  const minute = minuteText === undefined ? 0 : Number(minuteText);
  const second = secondText === undefined ? 0 : Number(secondText);
  const millisecond = fraction === undefined ? 0 : Number(fraction.padEnd(3, '0').slice(0, 3));

  if (year < 1970 || year > 9999) {
    throw invalidInstant(field, value, 'the year must be between 1970 and 9999');
  }
  if (month < 1 || month > 12) throw invalidInstant(field, value, 'months go from 01 to 12');
  const monthDays = daysInMonth(year, month);
  if (day < 1 || day > monthDays) {
    const reason = `${MONTH_NAMES[month - 1]} ${year} has ${monthDays} days`;
    throw invalidInstant(field, value, reason);
  }
  if (hour > 23) throw invalidInstant(field, value, 'hours go from 00 to 23');
  if (minute > 59) throw invalidInstant(field, value, 'minutes go from 00 to 59');
  if (second > 59) throw invalidInstant(field, value, 'seconds go from 00 to 59');

  const offsetMinutes = zone === undefined ? 0 : parseOffsetMinutes(zone);
  if (offsetMinutes === null) {
    throw invalidInstant(field, value, 'the offset must be between -23:59 and +23:59');
  }
  const ms =
    Date.UTC(year, month - 1, day, hour, minute, second, millisecond) - offsetMinutes * MINUTE_MS;
  if (ms < MIN_INSTANT_MS || ms > MAX_INSTANT_MS) {
    throw invalidInstant(
      field,
      value,
      'it must fall between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z',
    );
  }
  return new Date(ms);
}

/** Minutes east of UTC for 'Z', '±hh', '±hhmm', '±hh:mm' (a leading space means '+'); null if out of range. */
function parseOffsetMinutes(zone: string): number | null {
  if (zone === 'Z' || zone === 'z') return 0;
  const sign = zone[0] === '-' ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (hours > 23 || minutes > 59) return null;
  return sign * (hours * 60 + minutes);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function invalidInstant(field: string, value: string, reason: string): UsageRangeError {
  return new UsageRangeError(
    `${field} is not a valid ISO-8601 date: ${describeValue(value)} (${reason})`,
  );
}

/** Echoes a caller's value in a message, bounded so a huge query string cannot bloat it. */
function describeValue(value: unknown): string {
  const text = String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

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
    if (!(startMs >= this.first && startMs < this.end)) return;
    const index =
      this.size > 0
        ? Math.floor((startMs - this.first) / this.size)
        : lastIndexAtOrBefore(this.monthStarts!, startMs);
    this.counts[index] += count;
    this.volumes[index] += volume;
  }

  /** Start (epoch ms) of bucket `index`. */
  startOf(index: number): number {
    return this.size > 0 ? this.first + index * this.size : this.monthStarts![index];
  }

  points(): UsagePoint[] {
    const format = minuteAlignedFormatter();
    const points = new Array<UsagePoint>(this.length);
    for (let i = 0; i < this.length; i++) {
      points[i] = {
        bucket: format(this.startOf(i)),
        volume: this.volumes[i],
        count: this.counts[i],
      };
    }
    return points;
  }

  countAt(index: number): number {
    return this.counts[index];
  }

  volumeAt(index: number): number {
    return this.volumes[index];
  }
}

/**
 * One point per bucket of the range, zeros where no row falls. Rows are summed into the bucket
 * holding their `start`; rows outside every bucket of the range are ignored.
 */
export function zeroFill(range: UsageRange, rows: BucketRow[]): UsagePoint[] {
  const totals = new BucketTotals(range);
  for (const row of rows) totals.add(row.start, row.count, row.volume);
  return totals.points();
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

// Date#toISOString for ~130,000 minute buckets costs ~100 ms. Every bucket start is a whole UTC
// minute, so format the date part once per day and take 'HH:MM:00.000Z' from a table. The
// per-bucket path touches no globals (Math, Date): under Jest's vm sandbox each global lookup is
// slow enough to make this loop several times slower.
let timeOfDayTexts: readonly string[] | undefined;

/** toISOString for whole-minute instants; cheapest when called in ascending order. */
function minuteAlignedFormatter(): (ms: number) => string {
  const times = (timeOfDayTexts ??= Array.from({ length: 24 * 60 }, (_, minute) =>
    new Date(minute * MINUTE_MS).toISOString().slice(11),
  ));
  let dayStart = 1; // empty [dayStart, dayEnd): the first call computes the day
  let dayEnd = 0;
  let dayPrefix = '';
  return (ms) => {
    if (ms < dayStart || ms >= dayEnd) {
      dayStart = Math.floor(ms / DAY_MS) * DAY_MS;
      dayEnd = dayStart + DAY_MS;
      dayPrefix = new Date(dayStart).toISOString().slice(0, 11);
    }
    return dayPrefix + times[(ms - dayStart) / MINUTE_MS];
  };
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
