import {
  changedLimits,
  keyLimits,
  limitChanges,
  LimitsError,
  NO_LIMITS,
  sameLimits,
} from './limits';

const rate = { limit: 10, windowSeconds: 60 };
const quota = { requests: 100, volumeBytes: null, period: 'day' as const };

describe(keyLimits.name, () => {
  it('takes each kind from the key, else from the account', () => {
    expect(keyLimits({ rateLimit: rate, quota: null }, { rateLimit: null, quota }, false)).toEqual({
      rateLimit: rate,
      rateSource: 'key',
      quota,
      quotaSource: 'account',
    });
  });

  it('holds the master key to its own limits only, and is null without any', () => {
    expect(keyLimits(NO_LIMITS, { rateLimit: rate, quota }, true)).toBeNull();
    expect(keyLimits(NO_LIMITS, NO_LIMITS, false)).toBeNull();
  });

  it('compares limits by value', () => {
    const a = keyLimits({ rateLimit: rate, quota }, NO_LIMITS, false);
    const b = keyLimits({ rateLimit: { ...rate }, quota: { ...quota } }, NO_LIMITS, false);
    expect(sameLimits(a, b)).toBe(true);
    expect(sameLimits(a, keyLimits({ rateLimit: rate, quota: null }, NO_LIMITS, false))).toBe(
      false,
    );
    expect(sameLimits(null, null)).toBe(true);
  });
});

describe(limitChanges.name, () => {
  it('keeps only what was sent; null removes', () => {
    expect(limitChanges({})).toEqual({});
    expect(limitChanges({ rateLimit: null })).toEqual({ rateLimit: null });
    expect(limitChanges({ quota: { volumeBytes: 5, period: 'total' } })).toEqual({
      quota: { requests: null, volumeBytes: 5, period: 'total' },
    });
  });

  it('refuses a quota that limits nothing', () => {
    expect(() => limitChanges({ quota: { period: 'day' } })).toThrow(LimitsError);
  });
});

describe(changedLimits.name, () => {
  it('names only the fields sent that differ, with their values before and after', () => {
    const before = { rateLimit: rate, quota: null };
    expect(changedLimits(before, { rateLimit: { ...rate } })).toBeNull();
    expect(changedLimits(before, {})).toBeNull();
    expect(changedLimits(before, { rateLimit: null, quota })).toEqual({
      rateLimit: { before: rate, after: null },
      quota: { before: null, after: quota },
    });
  });
});
