import { createCipheriv, createDecipheriv, createHash, hash, randomBytes } from 'node:crypto';

/** `crypto.hash` exists from Node 20.12 and 21.7; package.json asks for 20.19, npm only warns. */
const HAS_ONE_SHOT_HASH = typeof hash === 'function';

/**
 * The lookup hash of a key: SHA-256, hex. Keys are high-entropy, so no salt or KDF is needed.
 * Every request with a key computes it, and the one-shot `hash` costs about a third of a Hash
 * object's create/update/digest.
 */
export function hashKey(key: string): string {
  return HAS_ONE_SHOT_HASH
    ? hash('sha256', key, 'hex')
    : createHash('sha256').update(key).digest('hex');
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1';

/**
 * Seals a key with AES-256-GCM under the server secret so it can be shown again.
 * Format: `v1.<base64url(iv | tag | ciphertext)>`; the key's id is bound as associated data so a
 * ciphertext copied onto another row does not decrypt.
 */
export function encryptKey(key: string, secret: Buffer, keyId: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', secret, iv);
  cipher.setAAD(Buffer.from(keyId));
  const sealed = Buffer.concat([cipher.update(key, 'utf8'), cipher.final()]);
  return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url')}`;
}

/** Opens what encryptKey sealed; throws when the secret, id or ciphertext do not match. */
export function decryptKey(ciphertext: string, secret: Buffer, keyId: string): string {
  const [version, payload] = ciphertext.split('.', 2);
  if (version !== VERSION || !payload) throw new Error('unsupported key ciphertext');
  const raw = Buffer.from(payload, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', secret, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(keyId));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([
    decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
    decipher.final(),
  ]).toString('utf8');
}

/** Parses KEYMETER_SECRET (64 hex characters or base64 of 32 bytes). */
export function parseSecret(value: string): Buffer {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  // Node's base64 decoder skips characters it does not know; refuse them instead.
  const bytes = /^[A-Za-z0-9+/]{43}=?$/.test(value) ? Buffer.from(value, 'base64') : null;
  if (bytes?.length !== 32)
    throw new Error('KEYMETER_SECRET must be 32 bytes (64 hex characters or base64)');
  return bytes;
}
