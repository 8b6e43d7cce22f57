/** Display formatting: numbers in the browser's locale, instants in local time, sizes in SI. */

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

export function formatInt(value: number): string {
  return integer.format(value);
}

/** 1234 → "1.23 kB" (SI units, as network volumes are counted). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${integer.format(bytes)} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toLocaleString(undefined, { maximumFractionDigits: digits })} ${units[unit]}`;
}

/** Bytes as GB (10^9 bytes), precise enough that a handful of bytes does not read as 0. */
export function formatGigabytes(bytes: number): string {
  const gb = bytes / 1e9;
  if (bytes === 0) return '0 GB';
  const options: Intl.NumberFormatOptions =
    gb >= 1 ? { maximumFractionDigits: 3 } : { maximumSignificantDigits: 4 };
  return `${gb.toLocaleString(undefined, options)} GB`;
}

/** An instant in the browser's time zone, as a date and a time of day. */
export function formatInstant(iso: string): { date: string; time: string } {
  const at = new Date(iso);
  return { date: dateOnly.format(at), time: timeOnly.format(at) };
}

/** "km_AbCd••••••••": enough to tell keys apart, never the secret part. */
export function maskKey(key: string): string {
  const star = key.indexOf('*');
  const visible = star === -1 ? Math.min(key.indexOf('_') + 5, key.length) : star;
  return `${key.slice(0, visible)}${'•'.repeat(8)}`;
}

/** Whether the listing carried the key itself (KEY_STORAGE=encrypted), not its mask. */
export function isFullKey(key: string): boolean {
  return !key.includes('*');
}

const DAY_MS = 86_400_000;

/** yyyy-mm-dd of a UTC day. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The default usage range: the last 30 UTC days, today included. */
export function defaultRange(now = Date.now()): { from: string; to: string } {
  return { from: utcDay(now - 29 * DAY_MS), to: utcDay(now) };
}
