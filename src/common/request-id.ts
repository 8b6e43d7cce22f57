import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * What a client may name its own request with: up to 128 characters of letters, digits and
 * `_ . : @ / + = -` (UUIDs, ULIDs, W3C trace ids, "svc-42/7"). Anything else (spaces, quotes,
 * control characters, a header sent twice) is replaced, so that it can go into a log line or
 * a CSV cell as it is.
 */
const SANE_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

const REQUEST_ID = Symbol('keymeterRequestId');
type Tagged = IncomingMessage & { [REQUEST_ID]?: string };

/** The client's id when it is a sane value, else a new UUID. */
export function requestIdFor(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

/** Names every request: the id is echoed in `x-request-id` and carried by logs and audit. */
export function requestIdMiddleware(req: IncomingMessage, res: ServerResponse, next: () => void) {
  const id = requestIdFor(req.headers[REQUEST_ID_HEADER]);
  (req as Tagged)[REQUEST_ID] = id;
  res.setHeader(REQUEST_ID_HEADER, id);
  next();
}

/** The id requestIdMiddleware gave the request; null outside the HTTP pipeline. */
export function requestIdOf(req: IncomingMessage): string | null {
  return (req as Tagged)[REQUEST_ID] ?? null;
}
