import fc from 'fast-check';
import { ExpiryError, MAX_EXPIRY_AHEAD_MS, parseExpiry, rollExpiries } from './expiry';

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);

describe('parseExpiry', () => {
  it('reads null as "no expiry"', () => {
    expect(parseExpiry(null, NOW)).toBeNull();
  });

  it.each([
    ['2027-01-31T12:00:00Z', Date.UTC(2027, 0, 31, 12)],
    ['2027-01-31T13:00+01:00', Date.UTC(2027, 0, 31, 12)],
    ['2026-12-03T12:00:00.001Z', NOW + 1],
    ['2028-02-29T00:00:00-05:00', Date.UTC(2028, 1, 29, 5)],
    // Like usage's from and to: without a zone, UTC.
    ['2027-01-31T12:00:00', Date.UTC(2027, 0, 31, 12)],
  ])('reads %s as its instant', (text, ms) => {
    expect(parseExpiry(text, NOW)?.getTime()).toBe(ms);
  });

  it.each([
    ['a number', 1_800_000_000_000, 'ISO-8601'],
    ['a boolean', true, 'ISO-8601'],
    ['a day that does not exist', '2027-02-29T00:00:00Z', 'February 2027 has 28 days'],
    ['hour 24', '2027-01-31T24:00:00Z', 'hours go from 00 to 23'],
    ['free text', 'tomorrow', 'expiresAt'],
    ['empty', '', 'must not be empty'],
    ['the present instant', '2026-12-03T12:00:00Z', 'in the future'],
    ['the past', '2020-01-01T00:00:00Z', 'in the future'],
    ['too far ahead', '2200-01-01T00:00:00Z', '100 years'],
  ])('refuses %s, saying why', (_, value, why) => {
    expect(() => parseExpiry(value, NOW)).toThrow(ExpiryError);
    expect(() => parseExpiry(value, NOW)).toThrow(why);
  });

  it('takes every instant between now and 100 years ahead, in UTC, to the millisecond', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_EXPIRY_AHEAD_MS }), (ahead) => {
        const at = new Date(NOW + ahead);
        expect(parseExpiry(at.toISOString(), NOW)?.getTime()).toBe(at.getTime());
      }),
    );
  });
});

describe('rollExpiries', () => {
  it('ends the old key after the grace, and leaves the successor without expiry', () => {
    expect(rollExpiries(null, 3600, NOW)).toEqual({
      previous: new Date(NOW + 3_600_000),
      successor: null,
    });
    expect(rollExpiries(null, 0, NOW).previous.getTime()).toBe(NOW);
  });

  it('never extends the old key past its own expiry, which the successor keeps', () => {
    const end = NOW + 60_000;
    expect(rollExpiries(end, 3600, NOW)).toEqual({
      previous: new Date(end),
      successor: new Date(end),
    });
    expect(rollExpiries(end, 10, NOW).previous.getTime()).toBe(NOW + 10_000);
  });

  it('refuses to roll a key that has expired (at its instant too)', () => {
    expect(() => rollExpiries(NOW, 60, NOW)).toThrow('the key has expired');
    expect(() => rollExpiries(NOW - 1, 60, NOW)).toThrow(ExpiryError);
  });
});
