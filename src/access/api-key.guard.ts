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
import { prebuilt } from '../common/filters/all-exceptions.filter';
import { ACCESS } from './access.decorator';
import { AccessGate } from './access-gate';
import { extractKey } from './credentials';
import type { Access, Principal } from './principal';
import { PRINCIPAL } from './principal.decorator';
import { IS_PUBLIC } from './public.decorator';
import { Refusal, REFUSALS } from './refusal';
import { SessionAuthenticator } from './session-authenticator';

/**
 * Each refusal as the exception the error filter answers with, built once. Constructing an
 * HttpException captures a stack trace (about 18 µs inside a request, more than serving a cached
 * key costs), and no one reads it: AllExceptionsFilter turns an HttpException into the envelope
 * from its status and message, and neither Nest nor the filter modifies the exceptions it is
 * given. Their envelopes are serialised once too (prebuilt).
 */
const EXCEPTIONS = new Map<Refusal, HttpException>();

function exceptionOf(refusal: Refusal): HttpException {
  let exception = EXCEPTIONS.get(refusal);
  if (!exception) {
    const body = refusal.inEnvelope
      ? { message: refusal.message, code: refusal.code }
      : refusal.message;
    exception = prebuilt(
      refusal.status === 403
        ? new ForbiddenException(body)
        : refusal.status === 401
          ? new UnauthorizedException(body)
          : new HttpException(body, refusal.status),
    );
    EXCEPTIONS.set(refusal, exception);
  }
  return exception;
}

const SIGNED_OUT = prebuilt(new UnauthorizedException('sign in first'));

/**
 * A refusal, as a rejected promise rather than a throw. V8 makes a message object for every
 * `throw` (where it was thrown, for an uncaught-exception report), and Nest only passes the
 * refusal on to the exception filter through the promises of its router. Rejecting instead of
 * throwing saves ~18,000 of the ~800,000 instructions of a refused request (callgrind, main
 * thread, side by side).
 */
function refuse(refusal: Refusal): Promise<never> {
  return Promise.reject(exceptionOf(refusal));
}

/** What a route accepts: its @Public(), @AnyKey(), @SignedIn() or @MasterKey() (the default). */
type Rule = Access | 'public';

function authenticated(request: Request, principal: Principal): true {
  (request as unknown as Record<string, unknown>)[PRINCIPAL] = principal;
  return true;
}

function admitted(request: Request, admission: Principal | Refusal): true | Promise<never> {
  return admission instanceof Refusal ? refuse(admission) : authenticated(request, admission);
}

/**
 * The one global guard: Nest's entrance to the AccessGate. Every route needs the master key
 * unless it says otherwise with @Public(), @AnyKey() or @SignedIn(). Without a key, master
 * routes accept the dashboard's session cookie in place of the master key (not metered;
 * state-changing methods need the CSRF token).
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
    private readonly gate: AccessGate,
    private readonly sessions: SessionAuthenticator,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const rule = this.ruleOf(context);
    if (rule === 'public') return true;
    // The guard is global and keymeter serves HTTP only. switchToHttp() would attach three new
    // closures to the context on every call.
    const request = context.getArgByIndex<Request>(0);
    const credential = rule === 'session' ? null : extractKey(request.headers, request.rawHeaders);
    if (rule === 'session' || (rule === 'master' && credential === null)) {
      return this.bySession(request, rule);
    }
    const admission = this.gate.admit(credential, rule, request, context.getArgByIndex(1));
    return admission instanceof Promise
      ? admission.then((found) => admitted(request, found))
      : admitted(request, admission);
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

  /** The session of the cookie; a route that needed a key or a session is refused without. */
  private async bySession(request: Request, rule: Access): Promise<true> {
    const session = await this.sessions.authenticate(request);
    if (!session) throw rule === 'session' ? SIGNED_OUT : exceptionOf(REFUSALS.noKey);
    return authenticated(request, session);
  }
}
