/** How long deliveries of one event are retried, counted from the first attempt. */
export const RETRY_WINDOW_MS = 24 * 3_600_000;

/** The waits after the 1st, 2nd, ... failed attempt; after the last, every RETRY_EVERY_MS. */
export const RETRY_DELAYS_MS: readonly number[] = [
  5_000,
  30_000,
  2 * 60_000,
  10 * 60_000,
  30 * 60_000,
  60 * 60_000,
];
export const RETRY_EVERY_MS = 2.5 * 3_600_000;

/** Each wait is moved by up to ±20 %, so that endpoints failing together are not retried together. */
export const RETRY_JITTER = 0.2;

/**
 * When to try again after `failedAttempts` failures (1 after the first), or null to give up:
 * the delays above with jitter (`random` in [0, 1)), never later than 24 h after the first
 * attempt; one last attempt falls at that instant, and a failure there is the end.
 */
export function nextAttemptAt(
  failedAttempts: number,
  firstAttemptAtMs: number,
  nowMs: number,
  random: number,
): number | null {
  const deadline = firstAttemptAtMs + RETRY_WINDOW_MS;
  if (nowMs >= deadline) return null;
  const base = RETRY_DELAYS_MS[failedAttempts - 1] ?? RETRY_EVERY_MS;
  const wait = Math.round(base * (1 + RETRY_JITTER * (2 * random - 1)));
  return Math.min(nowMs + wait, deadline);
}
