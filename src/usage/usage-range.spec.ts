import fc from 'fast-check';
import {
  DEFAULT_RANGE_DAYS,
  INTERVALS,
  MAX_RANGE_DAYS,
  parseIsoInstant,
  parseUsageRange,
  UsageRangeError,
} from './usage-range';
import { countBuckets } from './buckets';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const iso = (ms: number): string => new Date(ms).toISOString();

/** Latest instant whose 92-day range stays within 9999-12-31. */
const LATEST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function expectRangeError(action: () => unknown, message: string | RegExp): void {
  expect(action).toThrow(UsageRangeError);
  expect(action).toThrow(message);
}

describe(parseIsoInstant.name, () => {
  it.each([
    ['2021-01-19', '2021-01-19T00:00:00.000Z'],
    ['2021-01-19T00:00', '2021-01-19T00:00:00.000Z'],
    ['2021-01-19T13:45:10', '2021-01-19T13:45:10.000Z'],
    ['2021-01-19T13:45:10.5', '2021-01-19T13:45:10.500Z'],
    ['2021-01-19T13:45:10.123456789', '2021-01-19T13:45:10.123Z'],
    ['2021-01-19T13:45:10Z', '2021-01-19T13:45:10.000Z'],
    ['2021-01-19T13:45:10+02:00', '2021-01-19T11:45:10.000Z'],
    ['2021-01-19T01:00:00-05:30', '2021-01-19T06:30:00.000Z'],
    ['2021-01-19T00:30:00+01:00', '2021-01-18T23:30:00.000Z'],
    ['2021-01-19T13:45:10+0200', '2021-01-19T11:45:10.000Z'],
    ['2021-01-19 13:45:10Z', '2021-01-19T13:45:10.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['1970-01-01', '1970-01-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ])('parses %s as %s', (input, expected) => {
    expect(parseIsoInstant(input, 'from').toISOString()).toBe(expected);
  });

  it('reads a space before the offset as the plus sign an unencoded query string lost', () => {
    expect(parseIsoInstant('2021-01-19T13:45:10 02:00', 'to').toISOString()).toBe(
      '2021-01-19T11:45:10.000Z',
    );
  });

  it('treats a date-time without a zone as UTC whatever the process time zone', () => {
    expect(parseIsoInstant('2021-07-01T12:00:00', 'from').getTime()).toBe(Date.UTC(2021, 6, 1, 12));
  });

  it.each([
    ['2021-02-30', /from is not a valid ISO-8601 date: 2021-02-30 \(February 2021 has 28 days\)/],
    ['2023-02-29', /February 2023 has 28 days/],
    ['2021-04-31', /April 2021 has 30 days/],
    ['2021-13-01', /months go from 01 to 12/],
    ['2021-00-10', /months go from 01 to 12/],
    ['2021-01-00', /January 2021 has 31 days/],
    ['2021-01-19T25:00:00', /hours go from 00 to 23/],
    ['2021-01-19T24:00:00', /hours go from 00 to 23/],
    ['2021-01-19T10:60:00', /minutes go from 00 to 59/],
    ['2021-01-19T10:00:60', /seconds go from 00 to 59/],
    ['2021-01-19T10:00:00+24:00', /the offset must be between/],
    ['99999-01-01', /the year must be between 1970 and 9999/],
    ['1969-12-31', /the year must be between 1970 and 9999/],
    ['1970-01-01T00:30:00+01:00', /must fall between 1970-01-01T00:00:00Z and 9999-12-31/],
  ])('rejects the impossible date %s', (input, message) => {
    expectRangeError(() => parseIsoInstant(input, 'from'), message);
  });

  it.each([
    '2021',
    '2021-01',
    'yesterday',
    '2021-1-19',
    '2021-01-19T10',
    '2021-01-19T10:00:00ZZ',
    '2021-01-19Z',
    '1611014400000',
    ' 2021-01-19',
    '+002021-01-19',
  ])('rejects %j and says which format to use', (input) => {
    expectRangeError(
      () => parseIsoInstant(input, 'to'),
      /^to is not a valid ISO-8601 date: .* \(use a date like 2021-01-19 or a date-time like 2021-01-19T00:00:00Z\)$/,
    );
  });

  it('rejects an empty value, naming the field', () => {
    expectRangeError(() => parseIsoInstant('', 'from'), /^from must not be empty; use a date like/);
  });

  it('keeps a huge value out of the message', () => {
    const error = captureError(() => parseIsoInstant('x'.repeat(10_000), 'from'));
    expect(error.message.length).toBeLessThan(200);
  });

  it('never rolls an accepted date-time over into another day', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: LATEST_MS }),
        fc.constantFrom('', 'Z', '+00:00'),
        (ms, zone) => {
          const text = iso(ms).replace(/Z$/, zone);
          expect(parseIsoInstant(text, 'from').getTime()).toBe(ms);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe(parseUsageRange.name, () => {
  const now = new Date('2021-04-20T10:11:12.345Z');

  it('defaults to daily buckets over the last 90 days up to now', () => {
    const result = parseUsageRange({}, now);
    expect(result).toEqual({
      from: new Date(now.getTime() - DEFAULT_RANGE_DAYS * DAY),
      to: now,
      interval: 'day',
    });
    expect(result.to).not.toBe(now);
  });

  it('ends at now when only from is given', () => {
    expect(parseUsageRange({ from: '2021-04-01' }, now)).toEqual({
      from: new Date('2021-04-01T00:00:00Z'),
      to: now,
      interval: 'day',
    });
  });

  it('starts 90 days before to when only to is given', () => {
    expect(parseUsageRange({ to: '2021-03-01T00:00:00Z', interval: 'hour' }, now)).toEqual({
      from: new Date(Date.UTC(2021, 2, 1) - 90 * DAY),
      to: new Date('2021-03-01T00:00:00Z'),
      interval: 'hour',
    });
  });

  it('accepts every documented interval', () => {
    for (const interval of INTERVALS) {
      expect(parseUsageRange({ interval }, now).interval).toBe(interval);
    }
  });

  it.each(['', 'year', 'Day', 'days'])('rejects the interval %j, listing the allowed ones', (i) => {
    expectRangeError(
      () => parseUsageRange({ interval: i }, now),
      `interval must be one of minute, hour, day, week, month; got "${i}"`,
    );
  });

  it('rejects an empty from instead of reading it as absent', () => {
    expectRangeError(() => parseUsageRange({ from: '' }, now), /^from must not be empty/);
  });

  it('rejects from after to', () => {
    expectRangeError(
      () => parseUsageRange({ from: '2021-01-02', to: '2021-01-01' }, now),
      /^from must be before to$/,
    );
  });

  it('says to defaults to now when a lone from lies in the future', () => {
    expectRangeError(
      () => parseUsageRange({ from: '2021-05-01' }, now),
      'from must be before to (to defaults to now, 2021-04-20T10:11:12.345Z)',
    );
  });

  it('accepts from equal to to as a single-instant range', () => {
    const result = parseUsageRange({ from: '2021-01-01', to: '2021-01-01T00:00:00Z' }, now);
    expect(countBuckets(result)).toBe(1);
  });

  it('accepts a range of exactly 92 days', () => {
    const result = parseUsageRange({ from: '2021-01-01', to: '2021-04-03' }, now);
    expect(result.to.getTime() - result.from.getTime()).toBe(MAX_RANGE_DAYS * DAY);
  });

  it('rejects a range of 92 days and one millisecond', () => {
    expectRangeError(
      () => parseUsageRange({ from: '2021-01-01', to: '2021-04-03T00:00:00.001Z' }, now),
      /^the range may span at most 92 days/,
    );
  });

  it('compares the span of instants, not of written dates, when offsets differ', () => {
    const from = '2021-01-01T00:00:00+02:00'; // 2020-12-31T22:00Z
    expect(() => parseUsageRange({ from, to: '2021-04-02T22:00:00Z' }, now)).not.toThrow();
    expectRangeError(
      () => parseUsageRange({ from, to: '2021-04-02T22:00:01Z' }, now),
      /at most 92 days/,
    );
  });

  it('names the field whose date is wrong', () => {
    expectRangeError(
      () => parseUsageRange({ from: '2021-01-01', to: '2021-02-30' }, now),
      /^to is not a valid ISO-8601 date: 2021-02-30/,
    );
  });
});

function captureError(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected the action to throw');
}
