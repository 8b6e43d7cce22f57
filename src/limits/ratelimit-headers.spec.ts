import {
  closestToRunningOut,
  LimitState,
  rateLimitHeader,
  rateLimitPolicyHeader,
  secondsUntil,
} from './ratelimit-headers';

const rate: LimitState = {
  policy: 'rate',
  unit: 'requests',
  limit: 100,
  remaining: 40,
  resetSeconds: 12,
  windowSeconds: 60,
};
const bytes: LimitState = {
  policy: 'quota',
  unit: 'content-bytes',
  limit: 1000,
  remaining: 300,
  resetSeconds: null,
  windowSeconds: null,
};

describe('RateLimit header fields', () => {
  it('writes the policy and the state as structured-field lists', () => {
    expect(rateLimitPolicyHeader(rate)).toBe('"rate";q=100;w=60');
    expect(rateLimitHeader(rate)).toBe('"rate";r=40;t=12');
    expect(rateLimitPolicyHeader(bytes)).toBe('"quota";q=1000;qu="content-bytes"');
    expect(rateLimitHeader(bytes)).toBe('"quota";r=300');
  });

  it('picks the limit with the smallest share left', () => {
    expect(closestToRunningOut([rate, bytes])).toBe(bytes);
    expect(closestToRunningOut([{ ...rate, remaining: 10 }, bytes])!.policy).toBe('rate');
    expect(closestToRunningOut([])).toBeUndefined();
  });

  it('rounds waits up, so a client is never early', () => {
    expect(secondsUntil(1)).toBe(1);
    expect(secondsUntil(1000)).toBe(1);
    expect(secondsUntil(1001)).toBe(2);
    expect(secondsUntil(-5)).toBe(0);
  });
});
