import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import {
  KEY_CHECKSUM_LENGTH,
  KEY_DISPLAY_CHARS,
  KEY_RANDOM_LENGTH,
  displayPrefix,
  generateKey,
  isWellFormedKey,
  keyChecksum,
  maskKey,
  toBase62,
} from './key-format';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PREFIX = 'km_';
const KEY_LENGTH = PREFIX.length + KEY_RANDOM_LENGTH + KEY_CHECKSUM_LENGTH;

/** Base62 written out by hand, independently of toBase62. */
function referenceBase62(value: number, width: number): string {
  let digits = '';
  let n = BigInt(value);
  while (n > 0n) {
    digits = ALPHABET[Number(n % 62n)] + digits;
    n /= 62n;
  }
  return (digits || '0').padStart(width, '0');
}

const arbitraryPrefix = fc.stringMatching(/^[a-z][a-z0-9]{0,9}_$/);

/** A character of the alphabet that differs from `current`. */
function otherBase62(current: string, offset: number): string {
  return ALPHABET[(ALPHABET.indexOf(current) + offset) % ALPHABET.length];
}

function replaceAt(text: string, index: number, char: string): string {
  return text.slice(0, index) + char + text.slice(index + 1);
}

describe(generateKey.name, () => {
  it('returns the prefix, 40 base62 characters and a 6-character base62 checksum', () => {
    const key = generateKey(PREFIX);

    expect(key).toHaveLength(49);
    expect(key).toMatch(/^km_[0-9A-Za-z]{40}[0-9A-Za-z]{6}$/);
  });

  it('ends with the base62 CRC32 of everything before the checksum', () => {
    const key = generateKey(PREFIX);
    const body = key.slice(0, -KEY_CHECKSUM_LENGTH);

    expect(key.slice(-KEY_CHECKSUM_LENGTH)).toBe(referenceBase62(crc32(body), 6));
  });

  it('returns a different key on every call', () => {
    const keys = new Set(Array.from({ length: 50 }, () => generateKey(PREFIX)));

    expect(keys.size).toBe(50);
  });

  it('uses every base62 character in its random part', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      for (const char of generateKey(PREFIX).slice(PREFIX.length, -KEY_CHECKSUM_LENGTH)) {
        seen.add(char);
      }
    }

    expect([...seen].sort().join('')).toBe([...ALPHABET].sort().join(''));
  });
});

describe(keyChecksum.name, () => {
  it('is the CRC32 of the body encoded in 6 base62 characters', () => {
    const body = 'km_0123456789abcdefghijABCDEFGHIJ0123456789';

    expect(crc32(body)).toBe(crc32(Buffer.from(body, 'utf8')));
    expect(keyChecksum(body)).toBe(referenceBase62(crc32(body), 6));
    expect(keyChecksum(body)).toHaveLength(6);
  });

  it('matches the known CRC32 of "123456789" (0xCBF43926) in base62', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(keyChecksum('123456789')).toBe(referenceBase62(0xcbf43926, 6));
  });
});

describe(toBase62.name, () => {
  it('encodes known values', () => {
    expect(toBase62(0, 1)).toBe('0');
    expect(toBase62(9, 1)).toBe('9');
    expect(toBase62(10, 1)).toBe('A');
    expect(toBase62(35, 1)).toBe('Z');
    expect(toBase62(36, 1)).toBe('a');
    expect(toBase62(61, 1)).toBe('z');
    expect(toBase62(62, 1)).toBe('10');
    expect(toBase62(62 * 62 - 1, 1)).toBe('zz');
    expect(toBase62(0xffffffff, 6)).toBe('4gfFC3');
  });

  it('left-pads with zeros to the requested width', () => {
    expect(toBase62(0, 6)).toBe('000000');
    expect(toBase62(61, 6)).toBe('00000z');
    expect(toBase62(62, 4)).toBe('0010');
  });

  it('does not truncate a value wider than the requested width', () => {
    expect(toBase62(62 * 62, 2)).toBe('100');
  });

  it('agrees with a reference encoding for every 32-bit value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (value) => {
        expect(toBase62(value, 6)).toBe(referenceBase62(value, 6));
      }),
    );
  });
});

describe(isWellFormedKey.name, () => {
  it('accepts keys generated with any valid prefix', () => {
    fc.assert(
      fc.property(arbitraryPrefix, (prefix) => {
        expect(isWellFormedKey(generateKey(prefix), prefix)).toBe(true);
      }),
    );
  });

  it('rejects a key that is one character too short or too long', () => {
    const key = generateKey(PREFIX);

    expect(isWellFormedKey(key.slice(0, -1), PREFIX)).toBe(false);
    expect(isWellFormedKey(key + '0', PREFIX)).toBe(false);
    expect(isWellFormedKey('', PREFIX)).toBe(false);
  });

  it('rejects a key checked against another prefix', () => {
    const key = generateKey(PREFIX);

    expect(isWellFormedKey(key, 'sk_')).toBe(false);
    expect(isWellFormedKey(key, 'kmx_')).toBe(false);
  });

  it('rejects a key whose prefix was replaced by another of the same length', () => {
    const key = generateKey(PREFIX);

    expect(isWellFormedKey('sk_' + key.slice(PREFIX.length), PREFIX)).toBe(false);
  });

  it('rejects a key with a correct checksum but another prefix', () => {
    const body = 'sk_' + 'a'.repeat(KEY_RANDOM_LENGTH);

    expect(isWellFormedKey(body + keyChecksum(body), PREFIX)).toBe(false);
    expect(isWellFormedKey(body + keyChecksum(body), 'sk_')).toBe(true);
  });

  it.each(['-', '_', '+', '/', '=', ' ', 'é', '*'])(
    'rejects a key containing the non-base62 character %j, even with a matching checksum',
    (char) => {
      const body = PREFIX + 'a'.repeat(KEY_RANDOM_LENGTH - 1) + char;

      expect(body).toHaveLength(KEY_LENGTH - KEY_CHECKSUM_LENGTH);
      expect(isWellFormedKey(body + keyChecksum(body), PREFIX)).toBe(false);
    },
  );

  it('rejects a key whose checksum does not match its body', () => {
    const body = PREFIX + 'a'.repeat(KEY_RANDOM_LENGTH);
    const checksum = keyChecksum(body);
    const wrong = checksum === '000000' ? '000001' : '000000';

    expect(isWellFormedKey(body + checksum, PREFIX)).toBe(true);
    expect(isWellFormedKey(body + wrong, PREFIX)).toBe(false);
  });

  it('rejects every single-character substitution after the prefix', () => {
    fc.assert(
      fc.property(
        arbitraryPrefix,
        fc.nat({ max: KEY_RANDOM_LENGTH + KEY_CHECKSUM_LENGTH - 1 }),
        fc.integer({ min: 1, max: ALPHABET.length - 1 }),
        (prefix, position, offset) => {
          const key = generateKey(prefix);
          const index = prefix.length + position;
          const mutated = replaceAt(key, index, otherBase62(key[index], offset));

          expect(mutated).not.toBe(key);
          expect(mutated).toHaveLength(key.length);
          // CRC32 detects every error burst of up to 32 bits, so a single substituted byte in the
          // body always changes the checksum, and a substituted checksum character never matches.
          expect(isWellFormedKey(mutated, prefix)).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('rejects every single-character substitution inside the prefix', () => {
    fc.assert(
      fc.property(
        arbitraryPrefix,
        fc.nat(),
        fc.integer({ min: 1, max: ALPHABET.length - 1 }),
        (prefix, position, offset) => {
          const key = generateKey(prefix);
          const index = position % prefix.length;
          const replacement =
            key[index] === '_' ? ALPHABET[offset] : otherBase62(key[index], offset);
          const mutated = replaceAt(key, index, replacement);

          expect(mutated).not.toBe(key);
          expect(isWellFormedKey(mutated, prefix)).toBe(false);
        },
      ),
    );
  });
});

describe(displayPrefix.name, () => {
  it('keeps only the prefix and the first 4 random characters', () => {
    const key = generateKey(PREFIX);

    expect(displayPrefix(key, PREFIX)).toBe(key.slice(0, PREFIX.length + KEY_DISPLAY_CHARS));
    expect(displayPrefix(key, PREFIX)).toHaveLength(PREFIX.length + 4);
  });

  it('never reveals more than prefix + 4 characters for any prefix', () => {
    fc.assert(
      fc.property(arbitraryPrefix, (prefix) => {
        const key = generateKey(prefix);
        const shown = displayPrefix(key, prefix);

        expect(shown).toHaveLength(prefix.length + 4);
        expect(key.startsWith(shown)).toBe(true);
      }),
    );
  });
});

describe(maskKey.name, () => {
  it('has the same length as a key and hides everything after the display prefix', () => {
    fc.assert(
      fc.property(arbitraryPrefix, (prefix) => {
        const key = generateKey(prefix);
        const shown = displayPrefix(key, prefix);
        const masked = maskKey(shown);

        expect(masked).toHaveLength(key.length);
        expect(masked.startsWith(shown)).toBe(true);
        expect(masked.slice(shown.length)).toMatch(/^\*+$/);
      }),
    );
  });

  it('masks a km_ key as its first 7 characters followed by 42 asterisks', () => {
    expect(maskKey('km_AbCd')).toBe('km_AbCd' + '*'.repeat(42));
  });
});
