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
import type { Access, KeyPrincipal } from './principal';
import { PRINCIPAL } from './principal.decorator';
import { requestBodyBytes } from './request-bytes';

/**
 * The one global guard. Every route needs the master key unless it says otherwise with
 * @Public() or @AnyKey(). A key that is malformed or fails its checksum is refused before any
 * database work; a known key is served from the cache; every authenticated request is metered.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly vault: KeyVault,
    private readonly cache: KeyCache,
    private readonly meter: UsageMeter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const access = this.reflector.getAllAndOverride<Access>(ACCESS, targets) ?? 'master';

    const request = context.switchToHttp().getRequest<Request>();
    const credential = extractKey(request.headers);
    if (credential === null) {
      throw new UnauthorizedException(
        'an API key is required: send it as Authorization: Basic (curl -u KEY:), Bearer, or x-api-key',
      );
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

    const principal: KeyPrincipal = {
      kind: 'key',
      accountId: stored.accountId,
      keyId: stored.id,
      keyName: stored.name,
      isMaster: stored.isMaster,
    };
    (request as unknown as Record<string, unknown>)[PRINCIPAL] = principal;
    return true;
  }
}
