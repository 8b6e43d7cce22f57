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
