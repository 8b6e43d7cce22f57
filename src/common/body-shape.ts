import type { NextFunction, Request, Response } from 'express';
import { envelope } from './filters/all-exceptions.filter';

/** Deeper than any body keymeter accepts; validating deeper ones would overflow the stack. */
export const MAX_BODY_DEPTH = 32;

function hasBody(req: Request): boolean {
  const length = Number(req.headers['content-length'] ?? 0);
  return length > 0 || req.headers['transfer-encoding'] !== undefined;
}

function depth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, level] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    deepest = Math.max(deepest, level);
    if (deepest > MAX_BODY_DEPTH) return deepest;
    for (const child of Object.values(node)) stack.push([child, level + 1]);
  }
  return deepest;
}

/**
 * Runs after the JSON parser. Every keymeter body is a JSON object: a body of another type would
 * otherwise reach the validators as "no body" and get misleading messages.
 */
export function bodyShapeGuard(req: Request, res: Response, next: NextFunction): void {
  const refuse = (status: number, message: string) => {
    res.status(status).json(envelope(status, message));
  };
  if (hasBody(req) && !req.is('application/json') && !req.is('+json')) {
    return refuse(415, 'send the request body as JSON with Content-Type: application/json');
  }
  const body: unknown = req.body;
  if (body === undefined || body === null || !hasBody(req)) return next();
  if (typeof body !== 'object' || Array.isArray(body)) {
    return refuse(400, 'the request body must be a JSON object');
  }
  if (depth(body) > MAX_BODY_DEPTH) {
    return refuse(400, `the request body is nested deeper than ${MAX_BODY_DEPTH} levels`);
  }
  next();
}
