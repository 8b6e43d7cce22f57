import {
  AttemptWindows,
  IN_FLIGHT_WAIT_MS,
  LoginThrottle,
  TooManyAttemptsException,
} from './login-throttle';

const WINDOW = 60_000;

describe(AttemptWindows.name, () => {
  it('counts attempts in flight against the limit', () => {
    const windows = new AttemptWindows(2, WINDOW);
    windows.reserve('a', 0);
    windows.reserve('a', 0);

    expect(windows.wait('a', 0)).toBe(IN_FLIGHT_WAIT_MS);
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

  it('admits no more concurrent checks for one email than its limit', () => {
    const throttle = new LoginThrottle(limits);
    const attempts = [0, 1, 2].map(() => throttle.reserve('e', 'ip', 0));

    expect(() => throttle.reserve('e', 'ip', 0)).toThrow(TooManyAttemptsException);
    attempts.forEach((attempt) => attempt.failed());
    expect(() => throttle.reserve('e', 'ip', 0)).toThrow(/try again in 60 s/);
  });

  it('admits no more concurrent checks from one address than its limit', () => {
    const throttle = new LoginThrottle(limits);
    for (let i = 0; i < 5; i++) throttle.reserve(`e${i}`, 'ip', 0);

    expect(() => throttle.reserve('other', 'ip', 0)).toThrow(TooManyAttemptsException);
    expect(() => throttle.reserve('other', 'elsewhere', 0)).not.toThrow();
  });

  it('clears the email on success, and frees an abandoned attempt without counting it', () => {
    const throttle = new LoginThrottle(limits);
    throttle.reserve('e', 'ip', 0).failed();
    throttle.reserve('e', 'ip', 0).failed();
    throttle.reserve('e', 'ip', 0).succeeded();
    for (let i = 0; i < 2; i++) throttle.reserve('e', 'ip', 0).failed();
    throttle.reserve('e', 'ip', 0).abandoned();

    expect(() => throttle.reserve('e', 'ip', 0).failed()).not.toThrow();
    expect(() => throttle.reserve('e', 'ip', 0)).toThrow(TooManyAttemptsException);
  });

  it('settles an attempt once, however often it is told', () => {
    const throttle = new LoginThrottle(limits);
    const attempt = throttle.reserve('e', 'ip', 0);
    attempt.failed();
    attempt.failed();
    attempt.failed();

    expect(() => throttle.reserve('e', 'ip', 0).failed()).not.toThrow();
  });
});
