import { expiryEventId, expiryNotice } from './key-expiry-events';

const DAY = 86_400_000;

describe('expiryNotice', () => {
  const expires = 100 * DAY;

  it('is nothing more than 7 days before', () => {
    expect(expiryNotice(expires, expires - 7 * DAY - 1)).toBeNull();
  });

  it('is the 7-day notice from 7 days before, the 1-day one from a day before', () => {
    expect(expiryNotice(expires, expires - 7 * DAY)).toEqual({
      type: 'key.expiring',
      daysBefore: 7,
    });
    expect(expiryNotice(expires, expires - DAY - 1)).toEqual({
      type: 'key.expiring',
      daysBefore: 7,
    });
    expect(expiryNotice(expires, expires - DAY)).toEqual({ type: 'key.expiring', daysBefore: 1 });
    expect(expiryNotice(expires, expires - 1)).toEqual({ type: 'key.expiring', daysBefore: 1 });
  });

  it('is key.expired for a day from the expiry, then nothing', () => {
    expect(expiryNotice(expires, expires)).toEqual({ type: 'key.expired' });
    expect(expiryNotice(expires, expires + DAY - 1)).toEqual({ type: 'key.expired' });
    expect(expiryNotice(expires, expires + DAY)).toBeNull();
  });
});

describe('expiryEventId', () => {
  it('is one id per key, expiry and kind of notice', () => {
    const week = { type: 'key.expiring', daysBefore: 7 } as const;
    const id = expiryEventId('k', 1, week);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(expiryEventId('k', 1, week)).toBe(id);
    expect(expiryEventId('k', 2, week)).not.toBe(id);
    expect(expiryEventId('j', 1, week)).not.toBe(id);
    expect(expiryEventId('k', 1, { type: 'key.expiring', daysBefore: 1 })).not.toBe(id);
    expect(expiryEventId('k', 1, { type: 'key.expired' })).not.toBe(id);
  });
});
