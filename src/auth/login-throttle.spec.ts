import {
  AttemptWindows,
  IN_FLIGHT_WAIT_MS,
  LoginThrottle,
  MAX_PLACE_WAIT_MS,
  TooManyAttemptsException,
} from './login-throttle';

const WINDOW = 60_000;

describe(AttemptWindows.name, () => {
  it('counts attempts in flight against the limit', () => {
    const windows = new AttemptWindows(2, WINDOW);
    windows.reserve('a', 0);
    windows.reserve('a', 0);

    expect(windows.wait('a', 0)).toBe(IN_FLIGHT_WAIT_MS);
    expect(windows.filled('a', 0)).toBe(false);
    windows.release('a', false);
    expect(windows.wait('a', 0)).toBe(0);
  });

  it('waits until the window ends once the counted attempts fill it', () => {
    const windows = new AttemptWindows(2, WINDOW);
    for (let i = 0; i < 2; i++) {
      windows.reserve('a', 1000);
      windows.release('a', true);
    }

    expect(windows.wait('a', 1000)).toBe(WINDOW);
    expect(windows.filled('a', 1000)).toBe(true);
    expect(windows.wait('a', 31_000)).toBe(WINDOW - 30_000);
    expect(windows.wait('a', 1000 + WINDOW)).toBe(0);
    expect(windows.wait('b', 1000)).toBe(0);
  });

  it('treats attempts in flight as counted when every attempt counts', () => {
    const windows = new AttemptWindows(1, WINDOW, true);
    windows.reserve('a', 0);

    expect(windows.wait('a', 10)).toBe(WINDOW - 10);
  });

  it('starts a new window for an id whose window ended, keeping what is in flight', () => {
    const windows = new AttemptWindows(2, WINDOW);
    windows.reserve('a', 0);
    windows.release('a', true);
    windows.reserve('a', 0);
    windows.reserve('a', WINDOW + 1);

    // The old count is gone; both attempts in flight still hold places.
    expect(windows.wait('a', WINDOW + 1)).toBe(IN_FLIGHT_WAIT_MS);
  });

  it('clears what an id counted', () => {
    const windows = new AttemptWindows(1, WINDOW);
    windows.reserve('a', 0);
    windows.release('a', true);
    windows.clear('a');

    expect(windows.wait('a', 0)).toBe(0);
  });
});

describe(LoginThrottle.name, () => {
  const limits = { perEmail: 3, perAddress: 5, windowMs: WINDOW };
  const at = (ms: number) => () => ms;
  /** Whether the promise has settled after the microtasks and timers queued so far. */
  const settledSoon = async (promise: Promise<unknown>) => {
    let settled = false;
    promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((resolve) => setImmediate(resolve));
    return settled;
  };

  it('lets a check past the limit wait for a place, then refuses it once the failures fill it', async () => {
    const throttle = new LoginThrottle(limits);
    const running = await Promise.all([0, 1, 2].map(() => throttle.reserve('e', 'ip', at(0))));
    const fourth = throttle.reserve('e', 'ip', at(0));

    expect(await settledSoon(fourth)).toBe(false);
    running.forEach((attempt) => attempt.failed());
    await expect(fourth).rejects.toThrow(/try again in 60 s/);
    await expect(throttle.reserve('e', 'ip', at(0))).rejects.toThrow(TooManyAttemptsException);
  });

  it('admits a waiting check when a running one succeeds', async () => {
    const throttle = new LoginThrottle(limits);
    const running = await Promise.all([0, 1, 2].map(() => throttle.reserve('e', 'ip', at(0))));
    const fourth = throttle.reserve('e', 'ip', at(0));
    running[0].succeeded();

    await expect(fourth).resolves.toEqual(
      expect.objectContaining({ failed: expect.any(Function) }),
    );
  });

  it('admits no more concurrent checks from one address than its limit', async () => {
    const throttle = new LoginThrottle(limits);
    for (let i = 0; i < 5; i++) await throttle.reserve(`e${i}`, 'ip', at(0));

    expect(await settledSoon(throttle.reserve('other', 'ip', at(0)))).toBe(false);
    expect(await settledSoon(throttle.reserve('other', 'elsewhere', at(0)))).toBe(true);
  });

  it('refuses a check that waited past MAX_PLACE_WAIT_MS', async () => {
    const throttle = new LoginThrottle(limits);
    for (let i = 0; i < 3; i++) await throttle.reserve('e', 'ip', at(0));
    let now = 0;
    const waiting = throttle.reserve('e', 'ip', () => now);
    now = MAX_PLACE_WAIT_MS;
    // Another attempt settling wakes the waiting one, which then sees its deadline passed.
    (await throttle.reserve('x', 'other', at(0))).abandoned();

    await expect(waiting).rejects.toThrow(TooManyAttemptsException);
  });

  it('clears the email on success, and frees an abandoned attempt without counting it', async () => {
    const throttle = new LoginThrottle(limits);
    (await throttle.reserve('e', 'ip', at(0))).failed();
    (await throttle.reserve('e', 'ip', at(0))).failed();
    (await throttle.reserve('e', 'ip', at(0))).succeeded();
    for (let i = 0; i < 2; i++) (await throttle.reserve('e', 'ip', at(0))).failed();
    (await throttle.reserve('e', 'ip', at(0))).abandoned();
    (await throttle.reserve('e', 'ip', at(0))).failed();

    await expect(throttle.reserve('e', 'ip', at(0))).rejects.toThrow(TooManyAttemptsException);
  });

  it('settles an attempt once, however often it is told', async () => {
    const throttle = new LoginThrottle(limits);
    const attempt = await throttle.reserve('e', 'ip', at(0));
    attempt.failed();
    attempt.failed();
    attempt.failed();

    await expect(throttle.reserve('e', 'ip', at(0))).resolves.toBeDefined();
  });
});
