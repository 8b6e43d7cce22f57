import fc from 'fast-check';
import { parseStoredRows } from './stored-rows';

const HOUR = 3_600_000;

describe(parseStoredRows.name, () => {
  it('reads nothing from an empty text', () => {
    const rows = parseStoredRows('', HOUR, 10);
    expect([rows.starts.length, rows.counts.length, rows.volumes.length]).toEqual([0, 0, 0]);
  });

  it('reads unit, count and volume per row, units times the unit length', () => {
    const rows = parseStoredRows('2,1,0;0,30,4096;7,5,12', HOUR, 3);
    expect([...rows.starts]).toEqual([2 * HOUR, 0, 7 * HOUR]);
    expect([...rows.counts]).toEqual([1, 30, 5]);
    expect([...rows.volumes]).toEqual([0, 4096, 12]);
  });

  it('gives every value as Number() of its text, for any integers the columns hold', () => {
    const integer = fc.oneof(
      fc.nat({ max: 1000 }),
      fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 2 ** 31 - 1 }), integer, integer), { maxLength: 40 }),
        (rows) => {
          const text = rows.map((row) => row.map(String).join(',')).join(';');
          const parsed = parseStoredRows(text, 1, rows.length);
          expect([...parsed.starts]).toEqual(rows.map(([unit]) => unit));
          expect([...parsed.counts]).toEqual(rows.map(([, count]) => Number(count)));
          expect([...parsed.volumes]).toEqual(rows.map(([, , volume]) => Number(volume)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('falls back to Number() for anything but plain digits', () => {
    const rows = parseStoredRows('1,-3,2.5;4,1e3,7', 1, 2);
    expect([...rows.counts]).toEqual([-3, 1000]);
    expect([...rows.volumes]).toEqual([2.5, 7]);
  });

  it('refuses more rows than the range can hold, rather than dropping some', () => {
    expect(() => parseStoredRows('1,1,1;2,1,1', 1, 1)).toThrow(/more than 1/);
  });

  it('parses the 129,601 rows of 90 days of minutes', () => {
    // Its speed is measured by the benchmark (B3), not by a timed test on a shared machine.
    const text = Array.from(
      { length: 129_601 },
      (_, i) => `${29_000_000 + i},${1 + (i % 10)},${(i * 7919) % 10_000}`,
    ).join(';');
    const rows = parseStoredRows(text, 60_000, 129_601);
    expect(rows.counts.length).toBe(129_601);
    expect(rows.counts[129_600]).toBe(1 + (129_600 % 10));
    expect(rows.volumes[5]).toBe((5 * 7919) % 10_000);
  });
});
