import { ForbiddenException, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { SessionPrincipal } from '../access/principal';
import { SessionAuthenticator } from '../access/session-authenticator';
import { prebuilt } from '../common/filters/all-exceptions.filter';
import { CSRF_HEADER, isSafeMethod, sessionTokenOf } from './session-cookie';
import { isWellFormedSessionToken } from './session-token';
import { SessionsService } from './sessions.service';

const NO_CSRF_TOKEN = prebuilt(
  new ForbiddenException(
    `send the session's CSRF token in the ${CSRF_HEADER} header (GET /api/v1/auth/session gives it)`,
  ),
);

/** The dashboard's session cookie, for the request gate. */
@Injectable()
export class CookieSessions extends SessionAuthenticator {
  constructor(private readonly sessions: SessionsService) {
    super();
  }

  /**
   * The session of the cookie, or null when there is none or it is unknown or expired. A live
   * session on a state-changing request without its CSRF token is 403, not a fallback to 401:
   * the caller is signed in, the request is what is refused.
   */
  async authenticate(request: Request): Promise<SessionPrincipal | null> {
    const token = sessionTokenOf(request);
    if (!isWellFormedSessionToken(token)) return null;
    const session = await this.sessions.find(token);
    if (!session) return null;
    if (
      !isSafeMethod(request.method) &&
      !this.sessions.csrfMatches(token, request.headers[CSRF_HEADER])
    ) {
      throw NO_CSRF_TOKEN;
    }
    return {
      kind: 'session',
      accountId: session.accountId,
      keyId: session.masterKeyId,
      keyName: session.masterKeyName,
      isMaster: true,
      sessionId: session.id,
      email: session.email,
      expiresAt: session.expiresAt,
    };
  }
}
