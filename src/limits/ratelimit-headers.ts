/**
 * The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-10): structured-field
 * lists naming a policy. `RateLimit-Policy: "quota";q=1000000;qu="requests";w=2678400` says what
 * the limit is; `RateLimit: "quota";r=998766;t=1209600` how much of it is left and in how many
 * seconds it resets. keymeter sends the one limit of the key closest to running out.
 */
export interface LimitState {
  policy: 'rate' | 'quota';
  /** Quota units: requests, or bytes of request content. */
  unit: 'requests' | 'content-bytes';
  limit: number;
  remaining: number;
  /** Seconds until the allowance is back in full; null when it never resets (total quotas). */
  resetSeconds: number | null;
  /** The policy's window in seconds; null for a total quota. */
  windowSeconds: number | null;
}

/** The state with the smallest share of its limit left (the first of equals). */
export function closestToRunningOut(states: readonly LimitState[]): LimitState | undefined {
  let closest: LimitState | undefined;
  for (const state of states) {
    if (!closest || state.remaining / state.limit < closest.remaining / closest.limit)
      closest = state;
  }
  return closest;
}

export function rateLimitPolicyHeader(state: LimitState): string {
  const unit = state.unit === 'requests' ? '' : `;qu="${state.unit}"`;
  const window = state.windowSeconds === null ? '' : `;w=${state.windowSeconds}`;
  return `"${state.policy}";q=${state.limit}${unit}${window}`;
}

export function rateLimitHeader(state: LimitState): string {
  const reset = state.resetSeconds === null ? '' : `;t=${state.resetSeconds}`;
  return `"${state.policy}";r=${Math.max(0, state.remaining)}${reset}`;
}

/** Whole seconds, rounded up, from a span in ms: a client waiting that long is never early. */
export const secondsUntil = (ms: number): number => Math.max(0, Math.ceil(ms / 1000));
