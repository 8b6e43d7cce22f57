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
import { KeysRepository } from '../keys/keys.repository';
import { ACCESS } from './access.decorator';
import { extractKey } from './credentials';
import type { Access, KeyPrincipal } from './principal';
import { PRINCIPAL } from './principal.decorator';

/**
 * The one global guard. Every route needs the master key unless it says otherwise with
 * @Public() or @AnyKey(). A key that is malformed or fails its checksum is refused before any
 * database work.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly vault: KeyVault,
    private readonly keys: KeysRepository,
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
    const key = await this.keys.findByHash(this.vault.hash(credential.key));
    if (!key) throw new UnauthorizedException('the API key is not valid');
    if (!key.isActive) throw new UnauthorizedException('the API key is deactivated');
    if (access === 'master' && !key.isMaster) {
      throw new ForbiddenException('this route needs the account master key');
    }
    const principal: KeyPrincipal = {
      kind: 'key',
      accountId: key.accountId,
      keyId: key.id,
      keyName: key.name,
      isMaster: key.isMaster,
    };
    (request as unknown as Record<string, unknown>)[PRINCIPAL] = principal;
    return true;
  }
}
