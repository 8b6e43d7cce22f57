/**
 * The range of a usage query (`from`, `to`, `interval`) and its strict ISO-8601 parsing. Pure
 * functions, all in UTC: the process time zone never matters.
 */
import { DAY_MS, MINUTE_MS } from './time';

export const INTERVALS = ['minute', 'hour', 'day', 'week', 'month'] as const;
export type Interval = (typeof INTERVALS)[number];

export const MAX_RANGE_DAYS = 92;
export const DEFAULT_RANGE_DAYS = 90;

const MIN_INSTANT_MS = 0; // 1970-01-01T00:00:00.000Z
const MAX_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A bad `from`/`to`/`interval`; the message says what to fix and is safe to show to the caller. */
export class UsageRangeError extends Error {
  override readonly name = 'UsageRangeError';
}

export interface UsageRange {
  from: Date;
  to: Date;
  interval: Interval;
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
