import {
  applyDecorators,
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  Injectable,
  SetMetadata,
  Type,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { originOf } from '../audit/actor';
import { validationPipe } from '../common/validation';
import type { StoredAccount } from './accounts.repository';
import { AccountsService } from './accounts.service';
import type { CredentialsDto } from './dto/register.dto';

const PASSWORD_BODY = 'keymeterPasswordBody';
const ACCOUNT = 'keymeterPasswordAccount';

type AccountRequest = Request & { [ACCOUNT]?: StoredAccount };

/**
 * Opens the account named by the body's email and password (the Radar routes carry them in
 * every body). Guards run before pipes, so the guard checks the body itself with the app's own
 * validation: a bad body is still a 400 before any password is verified, and the handler's
 * `@Body()` sees the same checked value.
 */
@Injectable()
export class PasswordAccountGuard implements CanActivate {
  private readonly validation = validationPipe();

  constructor(
    private readonly reflector: Reflector,
    private readonly accounts: AccountsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const metatype = this.reflector.get<Type<CredentialsDto>>(PASSWORD_BODY, context.getHandler());
    const request = context.switchToHttp().getRequest<AccountRequest>();
    const body = (await this.validation.transform(request.body, {
      type: 'body',
      metatype,
    })) as CredentialsDto;
    request.body = body;
    request[ACCOUNT] = await this.accounts.authenticate(
      body.email,
      body.password,
      originOf(request),
    );
    return true;
  }
}

/** The route's body is `body` (email, password and the route's own fields); see the guard. */
export function PasswordAccess(body: Type<CredentialsDto>): MethodDecorator {
  return applyDecorators(SetMetadata(PASSWORD_BODY, body), UseGuards(PasswordAccountGuard));
}

/** The account PasswordAccess opened; throws on a route without it. */
export const PasswordAccount = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): StoredAccount => {
    const account = ctx.switchToHttp().getRequest<AccountRequest>()[ACCOUNT];
    if (!account) throw new Error('PasswordAccount used on a route without PasswordAccess');
    return account;
  },
);
