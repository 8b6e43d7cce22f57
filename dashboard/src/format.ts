/** Display formatting: numbers in the browser's locale, instants in local time, sizes in SI. */

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const timeWithSeconds = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

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

/** 0.0421 → "4.2 %"; a rare error stays visible ("0.012 %") instead of reading as 0. */
export function formatPercent(ratio: number): string {
  const percent = ratio * 100;
  if (percent === 0 || percent === 100) return `${integer.format(percent)} %`;
  const options: Intl.NumberFormatOptions =
    percent >= 1 ? { maximumFractionDigits: 1 } : { maximumSignificantDigits: 2 };
  return `${percent.toLocaleString(undefined, options)} %`;
}

/** A latency in ms with the precision that matters at its size: "0.42 ms", "12.3 ms", "1,250 ms". */
export function formatMs(ms: number): string {
  const digits = ms >= 100 ? 0 : ms >= 10 ? 1 : 2;
  return `${ms.toLocaleString(undefined, { maximumFractionDigits: digits })} ms`;
}

/** An instant in the browser's time zone, as a date and a time of day. */
export function formatInstant(iso: string, seconds = false): { date: string; time: string } {
  const at = new Date(iso);
  return { date: dateOnly.format(at), time: (seconds ? timeWithSeconds : timeOnly).format(at) };
}

/** "2026-12-06 18:00:00 UTC": the exact instant, for a title or a note. */
export function formatUtc(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
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

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** A length of time as people say it: "less than a minute", "5 min", "2 h", "3 days". */
export function formatSpan(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / MINUTE_MS);
  if (minutes < 1) return 'less than a minute';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(Math.abs(ms) / HOUR_MS);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(Math.abs(ms) / DAY_MS)} days`;
}

/** "expires in 3 days" or, once past, "expired 2 h ago". */
export function expiryPhrase(iso: string, now = Date.now()): { expired: boolean; text: string } {
  const left = new Date(iso).getTime() - now;
  return left > 0
    ? { expired: false, text: `expires in ${formatSpan(left)}` }
    : { expired: true, text: `expired ${formatSpan(left)} ago` };
}

/** The value of a datetime-local input that shows `ms` in UTC, to the minute. */
export function utcInputValue(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

/** A datetime-local input's value read as UTC, as ISO-8601; null when it is not one. */
export function fromUtcInput(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(value)) return null;
  const at = new Date(`${value.length === 16 ? `${value}:00` : value}Z`);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/** yyyy-mm-dd of a UTC day. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The default usage range: the last 30 UTC days, today included. */
export function defaultRange(now = Date.now()): { from: string; to: string } {
  return { from: utcDay(now - 29 * DAY_MS), to: utcDay(now) };
}
