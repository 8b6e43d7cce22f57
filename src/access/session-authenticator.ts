import type { IncomingMessage } from 'node:http';
import type { SessionPrincipal } from './principal';

/**
 * How the gate learns of a signed-in dashboard session. auth/ implements it (cookies, CSRF,
 * the sessions table), so that access/ depends on no feature above it.
 */
export abstract class SessionAuthenticator {
  /**
   * The live session of the request, or null when there is none. Rejects when the session is
   * live but the request is refused anyway (a state-changing request without its CSRF token).
   */
  abstract authenticate(request: IncomingMessage): Promise<SessionPrincipal | null>;
}
