import { randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const KEY_RANDOM_LENGTH = 40;
export const KEY_CHECKSUM_LENGTH = 6;
/** Random characters kept in the clear after the prefix, so people can tell keys apart. */
export const KEY_DISPLAY_CHARS = 4;

/** Encodes a non-negative integer in base62, left-padded with '0' to `width`. */
export function toBase62(value: number, width: number): string {
  let out = '';
  let rest = value;
  do {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  } while (rest > 0);
  return out.padStart(width, '0');
}

/** The 6-character base62 CRC32 of everything before the checksum (62^6 > 2^32). */
export function keyChecksum(body: string): string {
  return toBase62(crc32(body), KEY_CHECKSUM_LENGTH);
}

/** A new key: prefix + 40 uniformly random base62 characters + checksum. */
export function generateKey(prefix: string): string {
  let random = '';
  for (let i = 0; i < KEY_RANDOM_LENGTH; i++) random += BASE62[randomInt(62)];
  const body = prefix + random;
  return body + keyChecksum(body);
}

const BASE62_CHARS = /^[0-9A-Za-z]+$/;

/**
 * True when `candidate` has the shape of a key with this prefix and its checksum matches.
 * Costs no I/O, so malformed and mistyped keys are refused before any database work.
 */
export function isWellFormedKey(candidate: string, prefix: string): boolean {
  if (candidate.length !== prefix.length + KEY_RANDOM_LENGTH + KEY_CHECKSUM_LENGTH) return false;
  if (!candidate.startsWith(prefix)) return false;
  const rest = candidate.slice(prefix.length);
  if (!BASE62_CHARS.test(rest)) return false;
  const body = candidate.slice(0, candidate.length - KEY_CHECKSUM_LENGTH);
  return keyChecksum(body) === candidate.slice(-KEY_CHECKSUM_LENGTH);
}

/** What listings show instead of a key: its first characters and a mask. */
export function maskKey(displayPrefix: string): string {
  return `${displayPrefix}${'*'.repeat(KEY_RANDOM_LENGTH + KEY_CHECKSUM_LENGTH - KEY_DISPLAY_CHARS)}`;
}

export function displayPrefix(key: string, prefix: string): string {
  return key.slice(0, prefix.length + KEY_DISPLAY_CHARS);
}
