import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { IS_PUBLIC } from '../common/decorators/public.decorator';
import { KeyVault } from '../common/crypto/key-vault.service';
import { KeyCache } from '../keys/key-cache.service';
import { UsageMeter } from '../usage/usage-meter.service';
import { ACCESS } from './access.decorator';
import { extractKey } from './credentials';
import type { Access, KeyPrincipal, Principal, SessionPrincipal } from './principal';
import { PRINCIPAL } from './principal.decorator';
import { requestBodyBytes } from './request-bytes';
import { CSRF_HEADER, isSafeMethod, sessionTokenOf } from './session-cookie';
import { isWellFormedSessionToken } from './session-token';
import { SessionsService } from './sessions.service';

const NO_KEY =
  'an API key is required: send it as Authorization: Basic (curl -u KEY:), Bearer, or x-api-key';

/**
 * The one global guard. Every route needs the master key unless it says otherwise with
 * @Public(), @AnyKey() or @SignedIn(). A key that is malformed or fails its checksum is refused
 * before any database work; a known key is served from the cache; every request authenticated
 * with a key is metered. Without a key, master routes accept the dashboard's session cookie in
 * place of the master key (not metered; state-changing methods need the CSRF token).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly vault: KeyVault,
    private readonly cache: KeyCache,
    private readonly meter: UsageMeter,
    private readonly sessions: SessionsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const access = this.reflector.getAllAndOverride<Access>(ACCESS, targets) ?? 'master';

    const request = context.switchToHttp().getRequest<Request>();
    const credential = extractKey(request.headers);
    let principal: Principal;
    if (access === 'session' || (access === 'master' && credential === null)) {
      const session = await this.bySession(request);
      if (!session) {
        if (access === 'session') throw new UnauthorizedException('sign in first');
        throw new UnauthorizedException(NO_KEY);
      }
      principal = session;
    } else {
      principal = await this.byKey(request, credential, access);
    }
    (request as unknown as Record<string, unknown>)[PRINCIPAL] = principal;
    return true;
  }

  private async byKey(
    request: Request,
    credential: ReturnType<typeof extractKey>,
    access: Access,
  ): Promise<KeyPrincipal> {
    if (credential === null) {
      throw new UnauthorizedException(NO_KEY);
    }
    if ('error' in credential) throw new UnauthorizedException(credential.error);
    if (!this.vault.isWellFormed(credential.key)) {
      throw new UnauthorizedException('the API key is malformed or its checksum is wrong');
    }
    const found = this.cache.find(this.vault.hash(credential.key));
    const stored = found instanceof Promise ? await found : found;
    if (!stored) throw new UnauthorizedException('the API key is not valid');
    if (!stored.isActive) throw new UnauthorizedException('the API key is deactivated');
    if (access === 'master' && !stored.isMaster) {
      throw new ForbiddenException('this route needs the account master key');
    }
    const write = this.meter.record(stored.id, requestBodyBytes(request));
    if (write) await write;
    return {
      kind: 'key',
      accountId: stored.accountId,
      keyId: stored.id,
      keyName: stored.name,
      isMaster: stored.isMaster,
    };
  }

  /**
   * The session of the cookie, or null when there is none or it is unknown or expired. A live
   * session on a state-changing request without its CSRF token is 403, not a fallback to 401:
   * the caller is signed in, the request is what is refused.
   */
  private async bySession(request: Request): Promise<SessionPrincipal | null> {
    const token = sessionTokenOf(request);
    if (!isWellFormedSessionToken(token)) return null;
    const session = await this.sessions.find(token);
    if (!session) return null;
    if (
      !isSafeMethod(request.method) &&
      !this.sessions.csrfMatches(token, request.headers[CSRF_HEADER])
    ) {
      throw new ForbiddenException(
        `send the session's CSRF token in the ${CSRF_HEADER} header (GET /api/v1/auth/session gives it)`,
      );
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
