import {
  csrfTokenFor,
  csrfTokenMatches,
  hashSessionToken,
  isWellFormedSessionToken,
  newSessionToken,
} from './session-token';

describe('session tokens', () => {
  it('makes 32 random bytes as 43 base64url characters, different every time', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => newSessionToken()));

    expect(tokens.size).toBe(100);
    for (const token of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token, 'base64url')).toHaveLength(32);
      expect(isWellFormedSessionToken(token)).toBe(true);
    }
  });

  it('refuses anything that is not shaped like a token', () => {
    const token = newSessionToken();

    for (const bad of [
      undefined,
      null,
      42,
      '',
      token.slice(1),
      `${token}x`,
      `${token.slice(1)}=`,
    ]) {
      expect(isWellFormedSessionToken(bad)).toBe(false);
    }
  });

  it('stores a SHA-256 of the token, never the token', () => {
    const token = newSessionToken();
    const hash = hashSessionToken(token);

    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(token);
    expect(hashSessionToken(token)).toBe(hash);
  });

  it('derives one CSRF token per session, distinct from the session token and its hash', () => {
    const token = newSessionToken();
    const csrf = csrfTokenFor(token);

    expect(csrfTokenFor(token)).toBe(csrf);
    expect(csrfTokenFor(newSessionToken())).not.toBe(csrf);
    expect(csrf).not.toBe(token);
    expect(csrf).not.toBe(hashSessionToken(token));
  });

  it("accepts only the session's own CSRF token", () => {
    const token = newSessionToken();
    const other = newSessionToken();

    expect(csrfTokenMatches(token, csrfTokenFor(token))).toBe(true);
    expect(csrfTokenMatches(token, csrfTokenFor(other))).toBe(false);
    expect(csrfTokenMatches(token, undefined)).toBe(false);
    expect(csrfTokenMatches(token, '')).toBe(false);
    expect(csrfTokenMatches(token, [csrfTokenFor(token)])).toBe(false);
    expect(csrfTokenMatches(token, csrfTokenFor(token).slice(1))).toBe(false);
  });
});
