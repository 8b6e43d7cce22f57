import type { Request } from 'express';
import { SESSION_COOKIE, sessionTokenOf } from './session-cookie';

const req = (cookie?: string) =>
  ({ headers: cookie === undefined ? {} : { cookie } }) as unknown as Request;

describe(sessionTokenOf.name, () => {
  it('reads the session cookie from the Cookie header, among others', () => {
    expect(sessionTokenOf(req(`a=1; ${SESSION_COOKIE}=abc; b=2`))).toBe('abc');
    expect(sessionTokenOf(req('other=abc'))).toBeUndefined();
    expect(sessionTokenOf(req(''))).toBeUndefined();
    expect(sessionTokenOf(req())).toBeUndefined();
  });

  it('does not take a cookie whose name only ends like the session cookie', () => {
    expect(sessionTokenOf(req(`x${SESSION_COOKIE}=abc`))).toBeUndefined();
  });

  it('trims blanks and percent-decodes; a bad encoding stays as sent', () => {
    expect(sessionTokenOf(req(` ${SESSION_COOKIE} = a%20b ;x=1`))).toBe('a b');
    expect(sessionTokenOf(req(`${SESSION_COOKIE}=%E0%A4%A`))).toBe('%E0%A4%A');
  });
});
