import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { Principal } from '../access/principal';
import { PRINCIPAL } from '../access/principal.decorator';
import { requestIdOf } from '../common/request-id';

/** Where a request came from, as the audit log records it. */
export interface RequestOrigin {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/**
 * Who acted: `master_key` (with its id) or `key` on the key routes, `session` (with its id) from
 * the dashboard, `password` on Radar's routes and sign-in, `anonymous` for a sign-up or a failed
 * sign-in, `system` for what keymeter does on its own (disabling a failing webhook endpoint).
 */
export type ActorType = 'master_key' | 'key' | 'session' | 'password' | 'anonymous' | 'system';

export interface Actor extends RequestOrigin {
  accountId: string;
  type: ActorType;
  id: string | null;
}

/** A user agent is the client's text: kept, but bounded. */
const MAX_USER_AGENT = 512;

export function originOf(req: Request): RequestOrigin {
  const agent = req.headers['user-agent'];
  return {
    ip: req.ip ?? null,
    userAgent: typeof agent === 'string' ? agent.slice(0, MAX_USER_AGENT) : null,
    requestId: requestIdOf(req),
  };
}

export function principalActor(principal: Principal, origin: RequestOrigin): Actor {
  return principal.kind === 'session'
    ? { ...origin, accountId: principal.accountId, type: 'session', id: principal.sessionId }
    : {
        ...origin,
        accountId: principal.accountId,
        type: principal.isMaster ? 'master_key' : 'key',
        id: principal.keyId,
      };
}

export function accountActor(
  accountId: string,
  type: 'password' | 'anonymous',
  origin: RequestOrigin,
): Actor {
  return { ...origin, accountId, type, id: null };
}

/** The request's origin (for routes where the actor is known only later: sign-in, sign-up). */
export const Origin = createParamDecorator((_: unknown, ctx: ExecutionContext): RequestOrigin =>
  originOf(ctx.switchToHttp().getRequest<Request>()),
);

/** Who the guard let in, with where from; throws on a route the guard did not authenticate. */
export const RequestActor = createParamDecorator((_: unknown, ctx: ExecutionContext): Actor => {
  const request = ctx.switchToHttp().getRequest<Request>();
  const principal = (request as unknown as Record<string, unknown>)[PRINCIPAL] as
    Principal | undefined;
  if (!principal) throw new Error('RequestActor used on a route the guard did not authenticate');
  return principalActor(principal, originOf(request));
});
