import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes, base64url: 43 characters. */
const TOKEN_BYTES = 32;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;
/** Domain separation: the CSRF token is an HMAC of this label under the session token. */
const CSRF_LABEL = 'keymeter csrf v1';

/** A new session token for the cookie. Only its hash is ever stored. */
export function newSessionToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** True when `candidate` could be a session token; anything else is refused without I/O. */
export function isWellFormedSessionToken(candidate: unknown): candidate is string {
  return typeof candidate === 'string' && TOKEN_SHAPE.test(candidate);
}

/** What the database keeps of a session token (hex SHA-256): a leaked table opens nothing. */
export function hashSessionToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * The CSRF token that goes with a session: derived from the session token, so nothing more is
 * stored, and unforgeable without the token, which page scripts never see (httpOnly cookie).
 */
export function csrfTokenFor(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update(CSRF_LABEL).digest('base64url');
}

/** Compares a presented CSRF token with the session's in constant time. */
export function csrfTokenMatches(sessionToken: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const expected = Buffer.from(csrfTokenFor(sessionToken));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
