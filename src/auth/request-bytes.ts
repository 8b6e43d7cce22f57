import type { IncomingMessage } from 'node:http';

/** Where the JSON parser's `verify` hook leaves the exact size of the body it read. */
export const BODY_BYTES = Symbol('keymeter.bodyBytes');

/**
 * The request body's size in bytes: what the body parser read when it read the body, else the
 * declared Content-Length (bodies of other types are not read by keymeter), else 0.
 */
export function requestBodyBytes(request: IncomingMessage): number {
  const read = (request as IncomingMessage & { [BODY_BYTES]?: number })[BODY_BYTES];
  if (read !== undefined) return read;
  const declared = Number(request.headers['content-length']);
  return Number.isSafeInteger(declared) && declared > 0 ? declared : 0;
}

export function recordBodyBytes(request: IncomingMessage, _res: unknown, buffer: Buffer): void {
  (request as IncomingMessage & { [BODY_BYTES]?: number })[BODY_BYTES] = buffer.length;
}
