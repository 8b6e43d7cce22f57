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

/** Buckets written between two turns of the event loop when a large body yields. */
export const BUCKETS_PER_TURN = 8192;

/**
 * Writes one body, `lines(from, to)` at a time: all at once for a small body, in slices with
 * the event loop let go between them for a large one.
 */
class BodyWriter {
  private readonly out: AsciiWriter;
  private readonly times: readonly Buffer[];
  private readonly afterVolume: Buffer;
  private readonly after: Buffer;
  private readonly separator: Buffer;
  private dayStart = 1; // empty [dayStart, dayEnd): the first bucket computes its day
  private dayEnd = 0;
  private dayPrefix = ascii('');

  constructor(
    private readonly totals: BucketTotals,
    private readonly format: LineFormat,
  ) {
    const fixed =
      format.before.length +
      'YYYY-MM-DDTHH:MM:00.000Z'.length +
      format.between.length +
      format.afterVolume.length +
      format.after.length +
      format.separator.length;
    this.out = new AsciiWriter(
      format.head.length + totals.length * (fixed + 2 * MAX_NUMBER_CHARS) + format.tail.length,
    );
    this.times = timesOfDay(format);
    this.afterVolume = ascii(format.afterVolume);
    this.after = ascii(format.after);
    this.separator = ascii(format.separator);
    this.out.bytes(ascii(format.head));
  }

  lines(from: number, to: number): void {
    const { out, totals, times, afterVolume, after, separator } = this;
    let { dayStart, dayEnd, dayPrefix } = this;
    for (let i = from; i < to; i++) {
      const start = totals.startOf(i);
      if (start < dayStart || start >= dayEnd) {
        dayStart = Math.floor(start / DAY_MS) * DAY_MS;
        dayEnd = dayStart + DAY_MS;
        dayPrefix = ascii(this.format.before + new Date(dayStart).toISOString().slice(0, 11));
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
    Object.assign(this, { dayStart, dayEnd, dayPrefix });
  }

  done(): Buffer {
    this.out.bytes(ascii(this.format.tail));
    return this.out.done();
  }
}

const formatOf = (format: 'json' | 'csv') => (format === 'csv' ? CSV_FORMAT : JSON_FORMAT);

/**
 * A usage series as the body of a response: `{"success":true,"results":[{"bucket",
 * "volume","count"},…]}` exactly as JSON.stringify writes it, or CSV with a header line.
 */
export function usageBody(totals: BucketTotals, format: 'json' | 'csv' = 'json'): Buffer {
  const writer = new BodyWriter(totals, formatOf(format));
  writer.lines(0, totals.length);
  return writer.done();
}

/**
 * The same bytes as usageBody, written BUCKETS_PER_TURN buckets at a time with a turn of the
 * event loop between slices: a 92-day minute body takes tens of milliseconds to write, and
 * requests that arrive meanwhile (a health check, metered traffic) are served between slices
 * instead of after the whole body, or after every large body queued before them.
 */
export async function usageBodyYielding(
  totals: BucketTotals,
  format: 'json' | 'csv' = 'json',
  abandoned: () => boolean = () => false,
): Promise<Buffer | null> {
  const writer = new BodyWriter(totals, formatOf(format));
  for (let from = 0; from < totals.length; from += BUCKETS_PER_TURN) {
    if (from > 0) await new Promise((resolve) => setImmediate(resolve));
    // The client went away between slices: nobody will read the rest.
    if (abandoned()) return null;
    writer.lines(from, Math.min(totals.length, from + BUCKETS_PER_TURN));
  }
  return writer.done();
}

/**
 * Above this size a usage body is written without Express's ETag: res.send() hashes the whole
 * body (SHA-1, ~13 ms for the 8 MB of a 90-day minute series) on every request. Smaller ones
 * (day, week and month series, short minute and hour ranges) keep their ETag and 304s.
 */
const ETAG_MAX_BYTES = 256 * 1024;

/**
 * Writes a usage series as `{success, results}` JSON or as CSV. Bodies of more than
 * BUCKETS_PER_TURN buckets are written in slices (usageBodyYielding).
 */
export async function sendUsage(
  res: Response,
  totals: BucketTotals,
  format: 'json' | 'csv' = 'json',
): Promise<void> {
  const body =
    totals.length > BUCKETS_PER_TURN
      ? await usageBodyYielding(totals, format, () => res.destroyed || res.req.destroyed)
      : usageBody(totals, format);
  if (body === null) return;
  // Sets `; charset=utf-8` as res.send() does for strings (the body is ASCII).
  res.type(format === 'csv' ? 'text/csv' : 'application/json');
  if (body.length <= ETAG_MAX_BYTES) {
    res.send(body);
    return;
  }
  res.setHeader('Content-Length', body.length);
  res.end(body);
}
