import { parse as parseCookie } from 'cookie';
import type { CookieOptions, Request, Response } from 'express';

/** The cookie that carries a dashboard session token. */
export const SESSION_COOKIE = 'keymeter_session';
/** The header that carries the session's CSRF token on state-changing requests. */
export const CSRF_HEADER = 'x-csrf-token';

/**
 * The session token the browser sent, if any. The Cookie header is parsed here, when a session
 * is wanted (session routes, and master routes called without a key), rather than by a cookie
 * middleware on every request: keymeter has no other cookie.
 */
export function sessionTokenOf(request: Request): string | undefined {
  const header = request.headers.cookie;
  return header === undefined ? undefined : parseCookie(header)[SESSION_COOKIE];
}

/**
 * Whether the browser reached keymeter over HTTPS. X-Forwarded-Proto is believed here although
 * no proxy is configured as trusted: all it can do is add Secure to the cookie, which only ever
 * makes it stricter, and behind a TLS-terminating proxy that is exactly what is wanted.
 */
function overHttps(request: Request): boolean {
  const forwarded = request.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return request.secure || first?.toLowerCase() === 'https';
}

function options(request: Request): CookieOptions {
  return { httpOnly: true, sameSite: 'strict', path: '/', secure: overHttps(request) };
}

export function setSessionCookie(
  request: Request,
  response: Response,
  token: string,
  maxAgeMs: number,
): void {
  response.cookie(SESSION_COOKIE, token, { ...options(request), maxAge: maxAgeMs });
}

export function clearSessionCookie(request: Request, response: Response): void {
  response.clearCookie(SESSION_COOKIE, options(request));
}

/** Methods that change nothing and so need no CSRF token (RFC 9110 safe methods). */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}
