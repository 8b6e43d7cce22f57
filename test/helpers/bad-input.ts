import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import type { TestApp } from './app';
import { account, basic, TestAccount } from './factory';
import { createKey as createKeyFor, CreatedKey } from './optidash-fixtures';

/**
 * The specs under test/bad-input/ have one test per line of docs/bad-input.md (the ids in
 * brackets), one file per section. Every refusal is checked the same way: the status, the exact
 * envelope `{success: false, statusCode, error, message}`, a message that names what to fix, a
 * Basic challenge on 401, and no stack trace in the body.
 */

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface Call {
  method: Method;
  path: string;
  headers?: Record<string, string>;
  /** An object or array is sent as JSON; a string or Buffer is sent as it is. */
  body?: unknown;
}

export const STACK_TRACE = /at .*\.(js|ts):\d+/;
const CHALLENGE = 'Basic realm="keymeter"';
const ENVELOPE_KEYS = 'error,message,statusCode,success';
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
};

const label = (c: Call) => `${c.method.toUpperCase()} ${c.path}`;

export function send(http: TestAgent, c: Call) {
  const req = http[c.method](c.path).set(c.headers ?? {});
  if (c.body === undefined) return req;
  if (typeof c.body === 'string') return req.send(c.body);
  // superagent would serialise a Buffer as JSON under a JSON content type: send its bytes.
  if (Buffer.isBuffer(c.body)) return req.serialize((bytes: Buffer) => bytes as never).send(c.body);
  return req
    .set('Content-Type', req.get('Content-Type') ?? 'application/json')
    .send(c.body as object);
}

/** What a response looks like, in the terms the expectations below are written in. */
export function outcome(request: string, res: Response) {
  const body: unknown = res.body;
  const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
  const envelope = isObject ? (body as Record<string, unknown>) : {};
  const message = envelope.message;
  return {
    request,
    status: res.status,
    envelope: {
      success: envelope.success,
      statusCode: envelope.statusCode,
      error: envelope.error,
      keys: Object.keys(envelope).sort().join(','),
    },
    message: Array.isArray(message) ? message.join(' | ') : message,
    messageIsStringOrList:
      typeof message === 'string' ||
      (Array.isArray(message) && message.every((m) => typeof m === 'string')),
    challenge: res.status === 401 ? res.headers['www-authenticate'] : undefined,
    stackTrace: STACK_TRACE.test(res.text ?? ''),
  };
}

export function refusal(request: string, status: number, says: RegExp) {
  return {
    request,
    status,
    envelope: { success: false, statusCode: status, error: REASONS[status], keys: ENVELOPE_KEYS },
    message: expect.stringMatching(says),
    messageIsStringOrList: true,
    challenge: status === 401 ? CHALLENGE : undefined,
    stackTrace: false,
  };
}

/** Sends every call and expects each to be refused with `status` and a message matching `says`. */
export async function expectRefused(
  http: TestAgent,
  calls: Call[],
  status: number,
  says: RegExp,
): Promise<void> {
  const seen = [];
  for (const c of calls) seen.push(outcome(label(c), await send(http, c)));
  expect(seen).toEqual(calls.map((c) => refusal(label(c), status, says)));
}

/** The key with its last checksum character changed: right shape, wrong checksum. */
export const flipChecksum = (key: string) => key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');

/** The accounts and keys a bad-input suite sends its requests with, and what it builds on them. */
export interface BadInputFixture {
  /** The account the requests are made for. */
  readonly owner: TestAccount;
  /** A second account, whose keys the owner must not reach. */
  readonly other: TestAccount;
  /** The owner's key named "child" (not the master key). */
  readonly child: CreatedKey;
  /** The other account's key named "other child". */
  readonly otherChild: CreatedKey;
  http(): TestAgent;
  /** The owner's master key as Basic credentials. */
  master(): Record<string, string>;
  /** The owner's email and password, for the Radar routes. */
  credentials(): { email: string; password: string };
  createKey(holder: TestAccount, name: string): Promise<CreatedKey>;
  /** Every `/1.0/keys/:key` route for `ref`, each with a body that would be valid for it. */
  keyRoutes(ref: string, headers?: Record<string, string>): Call[];
}

/**
 * Sets up (in beforeAll, on the suite's app) the two accounts and their keys that a bad-input
 * suite's requests use; their fields are read once beforeAll has run.
 */
export function badInputFixture(ctx: () => TestApp): BadInputFixture {
  let owner: TestAccount;
  let other: TestAccount;
  let child: CreatedKey;
  let otherChild: CreatedKey;

  const http = () => ctx().http;
  const master = (): Record<string, string> => ({ Authorization: basic(owner.masterKey) });
  const credentials = () => ({ email: owner.email, password: owner.password });
  const createKey = (holder: TestAccount, name: string) =>
    createKeyFor(http(), holder.masterKey, name);

  beforeAll(async () => {
    owner = await account(http());
    other = await account(http());
    child = await createKey(owner, 'child');
    otherChild = await createKey(other, 'other child');
  });

  const keyRoutes = (ref: string, headers = master()): Call[] => [
    { method: 'get', path: `/1.0/keys/${ref}`, headers },
    { method: 'put', path: `/1.0/keys/${ref}`, headers, body: { name: `renamed ${randomUUID()}` } },
    { method: 'patch', path: `/1.0/keys/${ref}`, headers, body: { isActive: true } },
    { method: 'delete', path: `/1.0/keys/${ref}`, headers },
  ];

  return {
    get owner() {
      return owner;
    },
    get other() {
      return other;
    },
    get child() {
      return child;
    },
    get otherChild() {
      return otherChild;
    },
    http,
    master,
    credentials,
    createKey,
    keyRoutes,
  };
}
