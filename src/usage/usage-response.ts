import type { Response } from 'express';
import type { BucketTotals } from './buckets';
import { DAY_MS, MINUTE_MS, minuteOfDayTexts } from './time';

/** The longest String(number) of a double ("-1.2345678901234567e+308" and the like). */
const MAX_NUMBER_CHARS = 25;
const MAX_SAFE_INTEGER = 2 ** 53 - 1;

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');

/**
 * The bytes of a usage body, written into one buffer: a 90-day minute series is ~130,000
 * buckets and 8 MB, and building it as strings (130,000 template strings, then the 8 MB rope
 * flattened and encoded) costs several times more. Everything written is ASCII.
 */
class AsciiWriter {
  private readonly buf: Buffer;
  private pos = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  bytes(bytes: Uint8Array): void {
    const { buf } = this;
    let pos = this.pos;
    for (let i = 0; i < bytes.length; i++) buf[pos++] = bytes[i];
    this.pos = pos;
  }

  /**
   * Writes String(n). The loops touch no globals (Math, Number): under Jest's vm sandbox each
   * global lookup is slow enough to make them several times slower.
   */
  number(n: number): void {
    // Counts and volumes of one bucket nearly always fit 31 bits: digits by integer division,
    // not by `%` on a double (a call to fmod per digit), which took a quarter of a 90-day
    // minute body's time.
    const small = n | 0;
    if (small === n && small >= 0) {
      this.int31(small);
      return;
    }
    if (!(n >= 0 && n <= MAX_SAFE_INTEGER && n % 1 === 0)) {
      this.pos += this.buf.write(String(n), this.pos, 'latin1');
      return;
    }
    let digits = 1;
    for (let power = 10; power <= n; power *= 10) digits++;
    const { buf } = this;
    const end = this.pos + digits;
    for (let at = end - 1; at >= this.pos; at--) {
      const digit = n % 10;
      buf[at] = 48 + digit;
      n = (n - digit) / 10;
    }
    this.pos = end;
  }

  private int31(n: number): void {
    let digits = 1;
    for (let power = 10; power <= n; power *= 10) digits++;
    const { buf } = this;
    const end = this.pos + digits;
    for (let at = end - 1; at >= this.pos; at--) {
      const rest = (n / 10) | 0;
      buf[at] = 48 + n - rest * 10;
      n = rest;
    }
    this.pos = end;
  }

  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * The pieces of one bucket's line, cached per day and per minute of the day:
 * `before + YYYY-MM-DDT + HH:MM:00.000Z + between + volume + afterVolume + count + after`.
 */
interface LineFormat {
  head: string;
  before: string;
  between: string;
  afterVolume: string;
  after: string;
  separator: string;
  tail: string;
}

const JSON_FORMAT: LineFormat = {
  head: '{"success":true,"results":[',
  before: '{"bucket":"',
  between: '","volume":',
  afterVolume: ',"count":',
  after: '}',
  separator: ',',
  tail: ']}',
};

const CSV_FORMAT: LineFormat = {
  head: 'bucket,volume,count\n',
  before: '',
  between: ',',
  afterVolume: ',',
  after: '\n',
  separator: '',
  tail: '',
};

/** Per format, 'HH:MM:00.000Z' and what follows up to the volume, for each minute of a day. */
const timesOfDayCache = new Map<LineFormat, readonly Buffer[]>();

function timesOfDay(format: LineFormat): readonly Buffer[] {
  let times = timesOfDayCache.get(format);
  if (!times) {
    times = minuteOfDayTexts().map((time) => ascii(time + format.between));
    timesOfDayCache.set(format, times);
  }
  return times;
}

function write(totals: BucketTotals, format: LineFormat): Buffer {
  const fixed =
    format.before.length +
    'YYYY-MM-DDTHH:MM:00.000Z'.length +
    format.between.length +
    format.afterVolume.length +
    format.after.length +
    format.separator.length;
  const out = new AsciiWriter(
    format.head.length + totals.length * (fixed + 2 * MAX_NUMBER_CHARS) + format.tail.length,
  );
  const times = timesOfDay(format);
  const afterVolume = ascii(format.afterVolume);
  const after = ascii(format.after);
  const separator = ascii(format.separator);
  let dayStart = 1; // empty [dayStart, dayEnd): the first bucket computes its day
  let dayEnd = 0;
  let dayPrefix = ascii('');
  out.bytes(ascii(format.head));
  for (let i = 0; i < totals.length; i++) {
    const start = totals.startOf(i);
    if (start < dayStart || start >= dayEnd) {
      dayStart = Math.floor(start / DAY_MS) * DAY_MS;
      dayEnd = dayStart + DAY_MS;
      dayPrefix = ascii(format.before + new Date(dayStart).toISOString().slice(0, 11));
    }
    const minuteOfDay = (start - dayStart) / MINUTE_MS;
    const time = times[minuteOfDay];
    if (i > 0) out.bytes(separator);
    out.bytes(dayPrefix);
    out.bytes(time);
    out.number(totals.volumeAt(i));
    out.bytes(afterVolume);
    out.number(totals.countAt(i));
    out.bytes(after);
  }
  out.bytes(ascii(format.tail));
  return out.done();
}

/**
 * A usage series as the body of a response: `{"success":true,"results":[{"bucket",
 * "volume","count"},…]}` exactly as JSON.stringify writes it, or CSV with a header line.
 */
export function usageBody(totals: BucketTotals, format: 'json' | 'csv' = 'json'): Buffer {
  return write(totals, format === 'csv' ? CSV_FORMAT : JSON_FORMAT);
}

/**
 * Above this size a usage body is written without Express's ETag: res.send() hashes the whole
 * body (SHA-1, ~13 ms for the 8 MB of a 90-day minute series) on every request. Smaller ones
 * (day, week and month series, short minute and hour ranges) keep their ETag and 304s.
 */
const ETAG_MAX_BYTES = 256 * 1024;

/** Writes a usage series as `{success, results}` JSON or as CSV. */
export function sendUsage(
  res: Response,
  totals: BucketTotals,
  format: 'json' | 'csv' = 'json',
): void {
  const body = usageBody(totals, format);
  // Sets `; charset=utf-8` as res.send() does for strings (the body is ASCII).
  res.type(format === 'csv' ? 'text/csv' : 'application/json');
  if (body.length <= ETAG_MAX_BYTES) {
    res.send(body);
    return;
  }
  res.setHeader('Content-Length', body.length);
  res.end(body);
}
