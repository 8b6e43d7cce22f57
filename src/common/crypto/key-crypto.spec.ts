import fc from 'fast-check';
import { createHash, randomBytes } from 'node:crypto';
import { decryptKey, encryptKey, hashKey, parseSecret } from './key-crypto';
import { generateKey } from './key-format';

const SECRET = Buffer.from(
  '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
  'hex',
);
const OTHER_SECRET = Buffer.alloc(32, 7);
const KEY_ID = 'key_01';

/** Flips one bit of the decoded payload at `index` and re-encodes it. */
function tamper(ciphertext: string, index: number): string {
  const [version, payload] = ciphertext.split('.');
  const raw = Buffer.from(payload, 'base64url');
  raw[index % raw.length] ^= 0x01;
  return `${version}.${raw.toString('base64url')}`;
}

describe(hashKey.name, () => {
  it('is the hex SHA-256 of the key', () => {
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashKey('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('equals the SHA-256 of the UTF-8 bytes of any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (key) => {
        expect(hashKey(key)).toBe(createHash('sha256').update(key, 'utf8').digest('hex'));
      }),
    );
  });

  it('returns 64 lowercase hex characters for any key', () => {
    fc.assert(
      fc.property(fc.string(), (key) => {
        expect(hashKey(key)).toMatch(/^[0-9a-f]{64}$/);
      }),
    );
  });

  it('is deterministic and tells different keys apart', () => {
    const key = generateKey('km_');

    expect(hashKey(key)).toBe(hashKey(key));
    expect(hashKey(key)).not.toBe(hashKey(generateKey('km_')));
  });
});

describe(encryptKey.name, () => {
  it('produces a v1-prefixed base64url ciphertext', () => {
    const ciphertext = encryptKey(generateKey('km_'), SECRET, KEY_ID);

    expect(ciphertext).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
  });

  it('carries a 12-byte IV and a 16-byte tag ahead of a ciphertext as long as the key', () => {
    const key = generateKey('km_');
    const payload = encryptKey(key, SECRET, KEY_ID).slice('v1.'.length);

    expect(Buffer.from(payload, 'base64url')).toHaveLength(12 + 16 + Buffer.byteLength(key));
  });

  it('gives a different ciphertext each time for the same key, secret and id', () => {
    const key = generateKey('km_');
    const first = encryptKey(key, SECRET, KEY_ID);
    const second = encryptKey(key, SECRET, KEY_ID);

    expect(first).not.toBe(second);
    expect(Buffer.from(first.slice(3), 'base64url').subarray(0, 12)).not.toEqual(
      Buffer.from(second.slice(3), 'base64url').subarray(0, 12),
    );
  });

  it('does not contain the plaintext key, its random part or its base64 form', () => {
    const key = generateKey('km_');
    const ciphertext = encryptKey(key, SECRET, KEY_ID);
    const payload = Buffer.from(ciphertext.slice(3), 'base64url');

    expect(ciphertext).not.toContain(key.slice(3));
    expect(ciphertext).not.toContain(Buffer.from(key).toString('base64url').slice(4, 40));
    expect(payload.includes(Buffer.from(key.slice(3)))).toBe(false);
  });
});

describe(decryptKey.name, () => {
  it('opens what encryptKey sealed', () => {
    const key = generateKey('km_');

    expect(decryptKey(encryptKey(key, SECRET, KEY_ID), SECRET, KEY_ID)).toBe(key);
  });

  it('round-trips any string under any 32-byte secret and id', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 80 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.string({ maxLength: 40 }),
        (key, secretBytes, keyId) => {
          const secret = Buffer.from(secretBytes);

          expect(decryptKey(encryptKey(key, secret, keyId), secret, keyId)).toBe(key);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('throws with another secret', () => {
    const ciphertext = encryptKey(generateKey('km_'), SECRET, KEY_ID);

    expect(() => decryptKey(ciphertext, OTHER_SECRET, KEY_ID)).toThrow();
  });

  it('throws with another key id, because the id is bound as associated data', () => {
    const ciphertext = encryptKey(generateKey('km_'), SECRET, KEY_ID);

    expect(() => decryptKey(ciphertext, SECRET, 'key_02')).toThrow();
    expect(() => decryptKey(ciphertext, SECRET, '')).toThrow();
  });

  it('throws when any byte of the IV, tag or ciphertext is tampered with', () => {
    const key = generateKey('km_');
    const ciphertext = encryptKey(key, SECRET, KEY_ID);
    const length = Buffer.from(ciphertext.slice(3), 'base64url').length;

    for (let index = 0; index < length; index++) {
      expect(() => decryptKey(tamper(ciphertext, index), SECRET, KEY_ID)).toThrow();
    }
  });

  it('throws when the ciphertext is truncated', () => {
    const ciphertext = encryptKey(generateKey('km_'), SECRET, KEY_ID);

    expect(() => decryptKey(ciphertext.slice(0, -4), SECRET, KEY_ID)).toThrow();
  });

  it.each([
    ['an unknown version prefix', (c: string) => `v2${c.slice(2)}`],
    ['no version prefix', (c: string) => c.slice(3)],
    ['an empty payload', () => 'v1.'],
    ['an empty string', () => ''],
  ])('throws "unsupported key ciphertext" for %s', (_, change) => {
    const ciphertext = encryptKey(generateKey('km_'), SECRET, KEY_ID);

    expect(() => decryptKey(change(ciphertext), SECRET, KEY_ID)).toThrow(
      'unsupported key ciphertext',
    );
  });
});

describe(parseSecret.name, () => {
  it('accepts 64 hex characters in either case', () => {
    const hex = randomBytes(32).toString('hex');

    expect(parseSecret(hex)).toEqual(Buffer.from(hex, 'hex'));
    expect(parseSecret(hex.toUpperCase())).toEqual(Buffer.from(hex, 'hex'));
  });

  it('accepts base64 of 32 bytes', () => {
    const bytes = randomBytes(32);

    expect(parseSecret(bytes.toString('base64'))).toEqual(bytes);
  });

  it('returns a secret that encryptKey accepts', () => {
    const secret = parseSecret(randomBytes(32).toString('base64'));

    expect(decryptKey(encryptKey('km_x', secret, KEY_ID), secret, KEY_ID)).toBe('km_x');
  });

  it.each([
    ['62 hex characters', 'ab'.repeat(31)],
    ['66 hex characters', 'ab'.repeat(33)],
    ['base64 of 16 bytes', Buffer.alloc(16, 1).toString('base64')],
    ['base64 of 31 bytes', Buffer.alloc(31, 1).toString('base64')],
    ['base64 of 33 bytes', Buffer.alloc(33, 1).toString('base64')],
    ['base64 of 64 bytes', Buffer.alloc(64, 1).toString('base64')],
    ['an empty string', ''],
  ])('rejects %s', (_, value) => {
    expect(() => parseSecret(value)).toThrow('KEYMETER_SECRET must be 32 bytes');
  });
});
