import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Principal } from './principal';

export const PRINCIPAL = 'keymeterPrincipal';

/** The authenticated principal; throws when the guard did not run for this route. */
export const AuthPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  const request = ctx.getArgByIndex<Record<string, unknown>>(0);
  const principal = request[PRINCIPAL] as Principal | undefined;
  if (!principal) throw new Error('AuthPrincipal used on a route the guard did not authenticate');
  return principal;
});
