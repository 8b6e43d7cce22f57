/**
 * Usage rows as read in bulk: the database joins a range's rows into one text value (one string
 * instead of an array per row, see UsageRepository.stored), parsed here into columns.
 */

/** Stored rows of a range, column by column. */
export interface StoredRows {
  /** Epoch ms of each row's unit. */
  starts: Float64Array;
  counts: Float64Array;
  volumes: Float64Array;
}

const SEPARATOR = 59; // ';'
const COMMA = 44;
const ZERO = 48;
/** Up to this many digits, accumulating digit by digit is exact (below 2^53). */
const EXACT_DIGITS = 15;

/**
 * Parses `unit,count,volume;unit,count,volume…` (at most `capacity` rows) into columns, units
 * times `unitMs`. Every value is what String() gives for the stored integer; anything but
 * plain digits, and numbers too long to add up exactly, go through Number() instead.
 */
export function parseStoredRows(text: string, unitMs: number, capacity: number): StoredRows {
  const starts = new Float64Array(capacity);
  const counts = new Float64Array(capacity);
  const volumes = new Float64Array(capacity);
  let row = 0;
  let column = 0;
  let value = 0;
  let digits = 0;
  let plain = true;
  let tokenStart = 0;
  const length = text.length;
  for (let i = 0; i <= length; i++) {
    const code = i < length ? text.charCodeAt(i) : SEPARATOR;
    if (code !== COMMA && code !== SEPARATOR) {
      const digit = code - ZERO;
      if (digit >= 0 && digit <= 9) value = value * 10 + digit;
      else plain = false;
      digits++;
      continue;
    }
    if (digits > 0) {
      if (!plain || digits > EXACT_DIGITS) value = Number(text.slice(tokenStart, i));
      if (row >= capacity) throw new Error(`more than ${capacity} usage rows in the range`);
      if (column === 0) starts[row] = value * unitMs;
      else if (column === 1) counts[row] = value;
      else volumes[row] = value;
    }
    if (code === SEPARATOR) {
      if (digits > 0 || column > 0) row++;
      column = 0;
    } else column++;
    value = 0;
    digits = 0;
    plain = true;
    tokenStart = i + 1;
  }
  return {
    starts: starts.subarray(0, row),
    counts: counts.subarray(0, row),
    volumes: volumes.subarray(0, row),
  };
}
