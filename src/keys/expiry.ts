import { parseIsoInstant, UsageRangeError } from '../usage/usage-range';

/** The furthest ahead an expiry may be set: 100 years (a typo of the year stays a 400). */
export const MAX_EXPIRY_AHEAD_MS = 100 * 365.25 * 86_400_000;

export class ExpiryError extends Error {}

/**
 * An `expiresAt` as sent: null clears it; an ISO-8601 instant in the future, up to 100 years
 * ahead, sets it. It is read like every instant of the API (usage's from and to): strictly, a
 * time without a zone is UTC. Anything else throws ExpiryError with a message that says what
 * to send.
 */
export function parseExpiry(value: unknown, nowMs: number): Date | null {
  if (value === null) return null;
  if (typeof value !== 'string') {
    throw new ExpiryError('expiresAt must be an ISO-8601 date and time, or null for no expiry');
  }
  let at: Date;
  try {
    at = parseIsoInstant(value, 'expiresAt');
  } catch (error) {
    if (error instanceof UsageRangeError) throw new ExpiryError(error.message);
    throw error;
  }
  if (at.getTime() <= nowMs) throw new ExpiryError('expiresAt must be in the future');
  if (at.getTime() - nowMs > MAX_EXPIRY_AHEAD_MS) {
    throw new ExpiryError('expiresAt must be at most 100 years ahead');
  }
  return at;
}

/**
 * The instants a roll sets: the old key's last one (now plus the grace, never later than an
 * expiry it already had) and the successor's (the old key's expiry, kept as the contract's end).
 * A key that has already expired is not rolled: it would come back to life as its successor.
 */
export function rollExpiries(
  oldExpiresAtMs: number | null,
  graceSeconds: number,
  nowMs: number,
): { previous: Date; successor: Date | null } {
  if (oldExpiresAtMs !== null && oldExpiresAtMs <= nowMs) {
    throw new ExpiryError('the key has expired: create a new key instead of rolling this one');
  }
  const graceEnd = nowMs + graceSeconds * 1000;
  return {
    previous: new Date(oldExpiresAtMs === null ? graceEnd : Math.min(oldExpiresAtMs, graceEnd)),
    successor: oldExpiresAtMs === null ? null : new Date(oldExpiresAtMs),
  };
}
