import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  HttpException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { IS_PUBLIC } from '../common/decorators/public.decorator';
import { prebuilt } from '../common/filters/all-exceptions.filter';
import { KeyVault } from '../common/crypto/key-vault.service';
import { KeyCache } from '../keys/key-cache.service';
import type { KeyAccess } from '../keys/keys.repository';
import { UsageMeter } from '../usage/usage-meter.service';
import { ACCESS } from './access.decorator';
import { Credential, CREDENTIAL_ERRORS, extractKey } from './credentials';
import type { Access, KeyPrincipal, Principal, SessionPrincipal } from './principal';
import { PRINCIPAL } from './principal.decorator';
import { requestBodyBytes } from './request-bytes';
import { CSRF_HEADER, isSafeMethod, sessionTokenOf } from './session-cookie';
import { isWellFormedSessionToken } from './session-token';
import { SessionsService } from './sessions.service';

/**
 * Every refusal of the guard, built once. Constructing an HttpException captures a stack trace
 * (about 18 µs inside a request, more than serving a cached key costs), and no one reads it:
 * AllExceptionsFilter turns an HttpException into the envelope from its status and message, and
 * neither Nest nor the filter modifies the exceptions it is given. Their envelopes are serialised
 * once too (prebuilt).
 */
const REFUSALS = {
  noKey: new UnauthorizedException(
    'an API key is required: send it as Authorization: Basic (curl -u KEY:), Bearer, or x-api-key',
  ),
  malformed: new UnauthorizedException('the API key is malformed or its checksum is wrong'),
  unknown: new UnauthorizedException('the API key is not valid'),
  deactivated: new UnauthorizedException('the API key is deactivated'),
  notMaster: new ForbiddenException('this route needs the account master key'),
  signedOut: new UnauthorizedException('sign in first'),
  noCsrfToken: new ForbiddenException(
    `send the session's CSRF token in the ${CSRF_HEADER} header (GET /api/v1/auth/session gives it)`,
  ),
} satisfies Record<string, HttpException>;
Object.values(REFUSALS).forEach(prebuilt);

const CREDENTIAL_REFUSALS = new Map(
  Object.values(CREDENTIAL_ERRORS).map((message) => [
    message,
    prebuilt(new UnauthorizedException(message)),
  ]),
);

/**
 * A refusal, as a rejected promise rather than a throw. V8 makes a message object for every
 * `throw` (where it was thrown, for an uncaught-exception report), and Nest only passes the
 * refusal on to the exception filter through the promises of its router. Rejecting instead of
 * throwing saves ~18,000 of the ~800,000 instructions of a refused request (callgrind, main
 * thread, side by side).
 */
function refuse(refusal: HttpException): Promise<never> {
  return Promise.reject(refusal);
}

/** What a route accepts: its @Public(), @AnyKey(), @SignedIn() or @MasterKey() (the default). */
type Rule = Access | 'public';

function authenticated(request: Request, principal: Principal): true {
  (request as unknown as Record<string, unknown>)[PRINCIPAL] = principal;
  return true;
}

/**
 * The one global guard. Every route needs the master key unless it says otherwise with
 * @Public(), @AnyKey() or @SignedIn(). A key that is malformed or fails its checksum is refused
 * before any database work; a known key is served from the cache; every request authenticated
 * with a key is metered. Without a key, master routes accept the dashboard's session cookie in
 * place of the master key (not metered; state-changing methods need the CSRF token).
 *
 * It runs on every request, so it answers synchronously whenever it can: a public route and a
 * cached key metered in memory cost no promise. Cache misses, strict metering
 * (USAGE_FLUSH_INTERVAL_MS=0) and sessions return one, and a refusal is a rejected one.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  /** Rules by controller class and handler: the decorators are read once per route. */
  private readonly rules = new WeakMap<object, WeakMap<object, Rule>>();

  constructor(
    private readonly reflector: Reflector,
    private readonly vault: KeyVault,
    private readonly cache: KeyCache,
    private readonly meter: UsageMeter,
    private readonly sessions: SessionsService,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const rule = this.ruleOf(context);
    if (rule === 'public') return true;
    // The guard is global and keymeter serves HTTP only. switchToHttp() would attach three new
    // closures to the context on every call.
    const request = context.getArgByIndex<Request>(0);
    const credential = rule === 'session' ? null : extractKey(request.headers);
    if (rule === 'session' || (rule === 'master' && credential === null)) {
      return this.bySession(request, rule).then((session) => authenticated(request, session));
    }
    const principal = this.byKey(request, credential, rule);
    return principal instanceof Promise
      ? principal.then((found) => authenticated(request, found))
      : authenticated(request, principal);
  }

  private ruleOf(context: ExecutionContext): Rule {
    const controller = context.getClass();
    const handler = context.getHandler();
    let byHandler = this.rules.get(controller);
    if (!byHandler) {
      byHandler = new WeakMap();
      this.rules.set(controller, byHandler);
    }
    let rule = byHandler.get(handler);
    if (rule === undefined) {
      const targets = [handler, controller];
      rule = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)
        ? 'public'
        : (this.reflector.getAllAndOverride<Access>(ACCESS, targets) ?? 'master');
      byHandler.set(handler, rule);
    }
    return rule;
  }

  /** The key's principal; synchronous when the key is cached and metering is buffered. */
  private byKey(
    request: Request,
    credential: Credential,
    access: Access,
  ): KeyPrincipal | Promise<KeyPrincipal> {
    if (credential === null) return refuse(REFUSALS.noKey);
    if ('error' in credential) {
      return refuse(
        CREDENTIAL_REFUSALS.get(credential.error) ?? new UnauthorizedException(credential.error),
      );
    }
    const hash = this.vault.hash(credential.key);
    // Only real keys are cached, so a cached one needs no shape or checksum check: that check
    // is for the others, which it refuses before any database work.
    const cached = this.cache.knownKey(hash);
    if (cached !== undefined) return this.admit(request, cached, access);
    if (!this.vault.isWellFormed(credential.key)) return refuse(REFUSALS.malformed);
    const found = this.cache.find(hash);
    return found instanceof Promise
      ? found.then((stored) => this.admit(request, stored, access))
      : this.admit(request, found, access);
  }

  /** Refuses a key that cannot use this route, else meters the request against it. */
  private admit(
    request: Request,
    stored: KeyAccess | null,
    access: Access,
  ): KeyPrincipal | Promise<KeyPrincipal> {
    if (!stored) return refuse(REFUSALS.unknown);
    if (!stored.isActive) return refuse(REFUSALS.deactivated);
    if (access === 'master' && !stored.isMaster) return refuse(REFUSALS.notMaster);
    const principal: KeyPrincipal = {
      kind: 'key',
      accountId: stored.accountId,
      keyId: stored.id,
      keyName: stored.name,
      isMaster: stored.isMaster,
    };
    const write = this.meter.record(stored.id, requestBodyBytes(request));
    return write ? write.then(() => principal) : principal;
  }

  /** The session of the cookie; a route that needed a key or a session is refused without. */
  private async bySession(request: Request, rule: Access): Promise<SessionPrincipal> {
    const session = await this.findSession(request);
    if (!session) throw rule === 'session' ? REFUSALS.signedOut : REFUSALS.noKey;
    return session;
  }

  /**
   * The session of the cookie, or null when there is none or it is unknown or expired. A live
   * session on a state-changing request without its CSRF token is 403, not a fallback to 401:
   * the caller is signed in, the request is what is refused.
   */
  private async findSession(request: Request): Promise<SessionPrincipal | null> {
    const token = sessionTokenOf(request);
    if (!isWellFormedSessionToken(token)) return null;
    const session = await this.sessions.find(token);
    if (!session) return null;
    if (
      !isSafeMethod(request.method) &&
      !this.sessions.csrfMatches(token, request.headers[CSRF_HEADER])
    ) {
      throw REFUSALS.noCsrfToken;
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
