import type { INestApplication } from '@nestjs/common';
import type TestAgent from 'supertest/lib/agent';
import { UsageMeter } from '../../src/usage/usage-meter.service';
import { basic } from './factory';

/** A key as `km_` + 40 base62 characters + a 6-character base62 checksum. */
export const KEY_SHAPE = /^km_[0-9A-Za-z]{46}$/;

/** The error envelope every error response carries. */
export { expectEnvelope } from './envelope';

/** The envelope's message as one string (validation errors come as a list). */
export function messageOf(body: { message?: unknown }): string {
  return Array.isArray(body.message) ? body.message.join(' | ') : String(body.message);
}

export interface CreatedKey {
  id: string;
  key: string;
  name: string;
}

/** Creates a key through `POST /1.0/keys` and looks its id up in `GET /1.0/keys`. */
export async function createKey(
  http: TestAgent,
  masterKey: string,
  name: string,
): Promise<CreatedKey> {
  const created = await http
    .post('/1.0/keys')
    .set('Authorization', basic(masterKey))
    .send({ name })
    .expect(200);
  const list = await http.get('/1.0/keys').set('Authorization', basic(masterKey)).expect(200);
  const listed = (list.body.keys as { id: string; name: string }[]).find(
    (k) => k.name === created.body.name,
  );
  if (!listed) throw new Error(`the key "${name}" is not listed after it was created`);
  return { id: listed.id, key: created.body.key as string, name: created.body.name as string };
}

/**
 * Records uses of a key at past instants through the real write path, then writes them. A flush
 * already running when this is called may not cover these uses, so flush until none is left.
 */
export async function injectUsage(
  app: INestApplication,
  keyId: string,
  uses: [iso: string, volume: number][],
): Promise<void> {
  const meter = app.get(UsageMeter);
  for (const [at, volume] of uses) meter.record(keyId, volume, Date.parse(at));
  for (let attempt = 0; attempt < 10 && meter.unflushed(keyId) !== null; attempt++) {
    await meter.flush();
  }
  if (meter.unflushed(keyId) !== null) throw new Error('the injected usage was not written');
}

export interface Point {
  bucket: string;
  volume: number;
  count: number;
}

export const sum = (points: Point[], field: 'volume' | 'count'): number =>
  points.reduce((total, p) => total + p[field], 0);

/** The Basic credentials of a key, as request headers. */
export const auth = (key: string) => ({ Authorization: basic(key) });

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Sends `method path` with `headers`, and `body` as JSON when there is one. */
export function call(
  http: TestAgent,
  method: Method,
  path: string,
  headers: Record<string, string>,
  body?: object,
) {
  const req = http[method](path).set(headers);
  return body === undefined ? req : req.send(body);
}

/** Every `/1.0/keys/:key` route, with a body that would be valid for it. */
export const keyRoutes = (ref: string): [Method, string, object | undefined][] => [
  ['get', `/1.0/keys/${ref}`, undefined],
  ['put', `/1.0/keys/${ref}`, { name: 'taken over' }],
  ['patch', `/1.0/keys/${ref}`, { isActive: false }],
  ['delete', `/1.0/keys/${ref}`, undefined],
];
