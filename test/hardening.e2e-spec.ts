import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import request from 'supertest';
import { startApp, TestApp } from './helpers/app';
import { ServerProcess, startServer } from './helpers/process';
import { expectEnvelope } from './helpers/envelope';
import { account, basic, TestAccount } from './helpers/factory';

/** What a burst of answers came to: how many of each status. */
function statuses(responses: { status: number }[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of responses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/** Listens on a free loopback port; the base URL. */
async function listen(t: TestApp): Promise<string> {
  const server = t.app.getHttpServer() as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A sign-up with a valid password. */
const signUp = (t: TestApp, email: string) =>
  t.http.post('/api/v1/auth/register').send({ email, password: 'a-good-password' });

const wrongPassword = (email: string) => ({ email, password: 'not-the-password-1' });

describe('the sign-in throttle under parallel attempts (issue 15.1)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startApp('sqlite');
  });
  afterEach(() => t.close());

  it('lets at most 10 password checks run for one email, however many arrive at once', async () => {
    const owner = await account(t.http);
    const burst = await Promise.all(
      Array.from({ length: 40 }, () =>
        t.http.post('/api/v1/keys/getApiKeys').send(wrongPassword(owner.email)),
      ),
    );

    expect(statuses(burst)).toEqual({ 401: 10, 429: 30 });
    for (const res of burst.filter((r) => r.status === 429)) {
      expectEnvelope(res.body, 429);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    // The right password is refused too until the window ends: the email is locked.
    await t.http
      .post('/api/v1/keys/getApiKeys')
      .send({ email: owner.email, password: owner.password })
      .expect(429);
  });

  it('serves many parallel calls with the right password: they wait for a place, none refused', async () => {
    const owner = await account(t.http);
    const burst = await Promise.all(
      Array.from({ length: 25 }, () =>
        t.http
          .post('/api/v1/keys/getApiKeys')
          .send({ email: owner.email, password: owner.password }),
      ),
    );

    expect(statuses(burst)).toEqual({ 200: 25 });
  });

  it('counts the dashboard sign-in and the Radar routes against the same email', async () => {
    const owner = await account(t.http);
    const routes = ['/api/v1/auth/session', '/api/v1/keys/generate', '/api/v1/keys/usageAnalytics'];
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        t.http.post(routes[i % routes.length]).send(wrongPassword(owner.email)),
      ),
    );

    expect(statuses(burst)).toEqual({ 401: 10, 429: 20 });
  });

  it('lets at most 50 password checks run from one address over many emails', async () => {
    const burst = await Promise.all(
      Array.from({ length: 70 }, (_, i) =>
        t.http.post('/api/v1/keys/getApiKeys').send(wrongPassword(`nobody-${i}@example.com`)),
      ),
    );

    expect(statuses(burst)).toEqual({ 401: 50, 429: 20 });
  });

  it('still signs in after failures below the limit, and a success clears them', async () => {
    const owner = await account(t.http);
    const fail = () => t.http.post('/api/v1/auth/session').send(wrongPassword(owner.email));
    for (let i = 0; i < 9; i++) await fail().expect(401);
    await t.http
      .post('/api/v1/auth/session')
      .send({ email: owner.email, password: owner.password })
      .expect(200);
    for (let i = 0; i < 10; i++) await fail().expect(401);
    await fail().expect(429);
  });
});

describe('sign-up limits (issue 15.2)', () => {
  let t: TestApp;
  afterEach(() => t?.close());

  const register = (email: string) => signUp(t, email);

  it('refuses registrations from one address past the hourly limit, also in parallel', async () => {
    t = await startApp('sqlite', { env: { REGISTRATIONS_PER_ADDRESS_PER_HOUR: '5' } });
    const burst = await Promise.all(
      Array.from({ length: 12 }, (_, i) => register(`new-${i}@example.com`)),
    );

    expect(statuses(burst)).toEqual({ 201: 5, 429: 7 });
    const refused = burst.find((r) => r.status === 429)!;
    expectEnvelope(refused.body, 429);
    expect(refused.body.message).toMatch(/too many registrations/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3000);
    // Refused attempts created nothing: the five are the only accounts.
    const created = burst.filter((r) => r.status === 201).length;
    expect(created).toBe(5);
  });

  it('counts a registration refused as a duplicate too', async () => {
    t = await startApp('sqlite', { env: { REGISTRATIONS_PER_ADDRESS_PER_HOUR: '2' } });
    await register('same@example.com').expect(201);
    await register('same@example.com').expect(409);
    await register('other@example.com').expect(429);
  });

  it('refuses every registration with 403 when REGISTRATION=closed', async () => {
    t = await startApp('sqlite', { env: { REGISTRATION: 'closed' } });
    const res = await register('someone@example.com').expect(403);

    expectEnvelope(res.body, 403);
    expect(res.body.message).toMatch(/registration is closed.*npm run account:create/);
  });

  it('lets an operator create an account from the command line while closed', async () => {
    t = await startApp('sqlite', { env: { REGISTRATION: 'closed' } });
    const cli = path.resolve(__dirname, '..', 'dist', 'auth', 'create-account.cli.js');
    const run = (email: string, password: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [cli, email], {
          env: {
            PATH: process.env.PATH ?? '',
            DATABASE_URL:
              t.config.database.provider === 'sqlite' ? `file:${t.config.database.file}` : '',
            DATA_DIR: t.dataDir,
            KEYMETER_SECRET: t.config.secret ?? '',
            LOG_LEVEL: 'warn',
          },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
        child.stdin.end(`${password}\n`);
      });

    const made = await run('Operator@Example.com', 'an-operator-password');
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const printed = JSON.parse(made.stdout) as {
      account: { email: string };
      masterKey: { key: string };
    };
    expect(printed.account.email).toBe('operator@example.com');
    // The printed master key and the password both work on the running server.
    await t.http.get('/1.0/me').set('Authorization', basic(printed.masterKey.key)).expect(200);
    await t.http
      .post('/api/v1/auth/session')
      .send({ email: 'operator@example.com', password: 'an-operator-password' })
      .expect(200);

    const bad = await run('not-an-email', 'an-operator-password');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/email must be a valid email address/);
    const taken = await run('operator@example.com', 'an-operator-password');
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/already exists/);
  });
});

describe('look-alike emails (issue 15.3)', () => {
  let t: TestApp;
  let owner: TestAccount;
  beforeAll(async () => {
    t = await startApp('sqlite');
    owner = await account(t.http);
  });
  afterAll(() => t.close());

  const register = (email: string) => signUp(t, email);

  it.each([
    ['a zero-width space', '\u200b'],
    ['a zero-width joiner', '\u200d'],
    ['a byte-order mark', '\ufeff'],
    ['a control character', '\u0007'],
  ])('refuses an address holding %s with a 400 that says so', async (_, character) => {
    const [local, domain] = owner.email.split('@');
    const res = await register(`${local}${character}@${domain.toUpperCase()}`).expect(400);

    expectEnvelope(res.body, 400);
    expect(res.body.message).toEqual([
      'email must not contain control or invisible characters (such as U+200B)',
    ]);
  });

  it('takes fullwidth and other compatibility forms as the address they look like', async () => {
    // NFKC: fullwidth letters and @ are the ASCII ones.
    const fullwidth = owner.email.replace(/[a-z@]/g, (c) =>
      String.fromCodePoint(c.codePointAt(0)! + 0xfee0),
    );
    expect(fullwidth).not.toBe(owner.email);

    const res = await register(fullwidth).expect(409);
    expectEnvelope(res.body, 409);
    await t.http
      .post('/api/v1/auth/session')
      .send({ email: fullwidth.toUpperCase(), password: owner.password })
      .expect(200);
  });

  it('stores a new address in its normal form', async () => {
    const res = await register('\uff2e\uff45\uff57@Example.COM').expect(201);
    expect(res.body.data.account.email).toBe('new@example.com');
  });

  it('refuses an implausible address with a 400', async () => {
    for (const email of ['no-at-sign', 'a@b', '@example.com', 'two@@example.com']) {
      const res = await register(email).expect(400);
      expect(res.body.message).toEqual(['email must be a valid email address']);
    }
  });
});

describe('repeated credential headers (issue 15.4)', () => {
  let t: TestApp;
  let owner: TestAccount;
  beforeAll(async () => {
    t = await startApp('sqlite');
    owner = await account(t.http);
  });
  afterAll(() => t.close());

  it('refuses two Authorization headers like two x-api-key headers, and meters neither', async () => {
    const other = await t.http
      .post('/1.0/keys')
      .set('Authorization', basic(owner.masterKey))
      .send({ name: 'other' })
      .expect(200);
    const otherKey = other.body.key as string;
    const usage = async () =>
      (await t.http.get('/1.0/keys').set('Authorization', basic(owner.masterKey)).expect(200)).body
        .keys as { name: string; usageCount: number }[];
    const before = await usage();

    const twoAuthorizations = await t.http
      .get('/1.0/keys')
      .set('Authorization', [basic(owner.masterKey), basic(otherKey)] as unknown as string)
      .expect(401);
    const twoApiKeys = await t.http
      .get('/1.0/keys')
      .set('x-api-key', [owner.masterKey, otherKey] as unknown as string)
      .expect(401);

    expectEnvelope(twoAuthorizations.body, 401);
    expect(twoAuthorizations.body.message).toBe(
      'send one Authorization or x-api-key header, not several',
    );
    expect(twoAuthorizations.body.message).toBe(twoApiKeys.body.message);
    // Only the two listings themselves were metered, against the master key.
    const after = await usage();
    const count = (keys: typeof before, name: string) => keys.find((k) => k.name === name)!;
    expect(count(after, 'other').usageCount).toBe(count(before, 'other').usageCount);
    expect(count(after, 'master').usageCount).toBe(count(before, 'master').usageCount + 1);
  });
});

describe('slow clients (issue 15.6)', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await startApp('sqlite', {
      env: {
        HEADERS_TIMEOUT_MS: '1500',
        REQUEST_TIMEOUT_MS: '3000',
        KEEP_ALIVE_TIMEOUT_MS: '1000',
      },
    });
    port = Number(new URL(await listen(t)).port);
  });
  afterAll(() => t.close());

  /** Opens a connection, sends `head`, then `trickle` every 300 ms; resolves when it closes. */
  function slowClient(head: string, trickle: string) {
    const socket = net.connect(port, '127.0.0.1');
    const opened = Date.now();
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', () => {});
    socket.write(head);
    const timer = setInterval(() => socket.write(trickle), 300);
    return new Promise<{ afterMs: number; received: string }>((resolve) => {
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ afterMs: Date.now() - opened, received });
      });
    });
  }

  it('cuts off a client trickling header lines, while others are served', async () => {
    const closed = slowClient('GET /health HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n');
    // Meanwhile, normal requests are answered at once.
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1000);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const { afterMs, received } = await closed;

    expect(received).toMatch(/^HTTP\/1\.1 408/);
    // HEADERS_TIMEOUT_MS plus at most one connection check (1 s).
    expect(afterMs).toBeGreaterThanOrEqual(1400);
    expect(afterMs).toBeLessThan(4000);
  });

  it('cuts off a client trickling its body past REQUEST_TIMEOUT_MS', async () => {
    const head =
      'POST /api/v1/auth/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      'Content-Length: 100000\r\n\r\n{"email":"';
    const { afterMs, received } = await slowClient(head, 'a');

    expect(received).toMatch(/^HTTP\/1\.1 408/);
    expect(afterMs).toBeGreaterThanOrEqual(2900);
    expect(afterMs).toBeLessThan(6000);
  });

  it('refuses settings that cannot hold together', () => {
    // Node would otherwise never apply a headers timeout longer than the request timeout.
    expect(() =>
      startApp('sqlite', { env: { HEADERS_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '2000' } }),
    ).rejects.toThrow(/HEADERS_TIMEOUT_MS=5000: must not be more than REQUEST_TIMEOUT_MS/);
  });
});

describe('large usage answers (issue 15.7)', () => {
  // A server process of its own: in this process, the test's own requests and the server's
  // work would take turns on one event loop, and never reach the server together.
  let server: ServerProcess;
  let owner: TestAccount;
  let base: string;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'keymeter-large-'));
    server = await startServer({
      dataDir,
      secret: randomBytes(32).toString('hex'),
      env: { LARGE_USAGE_ANSWERS_IN_FLIGHT: '1' },
    });
    base = server.url;
    owner = await account(request(base));
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const DAY = 86_400_000;
  const usagePath = (days: number, interval = 'minute') => {
    const to = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const from = new Date(to.getTime() - days * DAY);
    const query = new URLSearchParams({
      from: from.toISOString(),
      to: to.toISOString(),
      interval,
      format: 'csv',
    });
    return `/1.0/keys/${owner.masterKeyId}?${query}`;
  };

  /**
   * Sends the requests so that they reach the server together, as they do when it is busy:
   * every connection is opened first, then every request is written in one go.
   */
  async function together(paths: string[]) {
    const { port } = new URL(base);
    const sockets = await Promise.all(
      paths.map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const socket = net.connect(Number(port), '127.0.0.1', () => resolve(socket));
          }),
      ),
    );
    const answers = sockets.map(
      (socket) =>
        new Promise<{ status: number; head: string; body: string }>((resolve) => {
          let received = '';
          socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
          socket.on('close', () => {
            const split = received.indexOf('\r\n\r\n');
            const head = received.slice(0, split);
            resolve({ status: Number(head.split(' ')[1]), head, body: received.slice(split + 4) });
          });
        }),
    );
    sockets.forEach((socket, i) =>
      socket.write(
        `GET ${paths[i]} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(owner.masterKey)}\r\n` +
          'Connection: close\r\n\r\n',
      ),
    );
    return Promise.all(answers);
  }

  it('refuses large answers past the limit in flight with 503 and Retry-After', async () => {
    const large = usagePath(92);
    const small = [
      ...Array.from({ length: 3 }, () => usagePath(1)),
      ...Array.from({ length: 3 }, () => usagePath(92, 'hour')),
      '/health',
    ];
    // Whether requests reach the server in one batch depends on the scheduler: a burst where
    // they trickled in one by one is served whole. Up to five bursts, until one overlaps.
    const refused: { head: string; body: string }[] = [];
    for (let burst = 0; burst < 5 && refused.length === 0; burst++) {
      const answers = await together([...Array.from({ length: 12 }, () => large), ...small]);
      // Small ones are never refused: a day of minutes, 92 days of hours, the health check.
      expect(answers.slice(12).map((r) => r.status)).toEqual(Array(small.length).fill(200));
      const { 200: served, 503: busy = 0, ...other } = statuses(answers.slice(0, 12));
      expect(other).toEqual({});
      expect(served).toBeGreaterThanOrEqual(1);
      expect(busy).toBeLessThan(12);
      refused.push(...answers.slice(0, 12).filter((r) => r.status === 503));
    }

    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const res of refused) {
      expect(res.head).toMatch(/\r\nRetry-After: 1\r\n/i);
      expect(JSON.parse(res.body)).toMatchObject({
        statusCode: 503,
        message: expect.stringMatching(/too many large usage answers/),
      });
    }
    // Once the others are done, a large answer is served again.
    expect((await together([large]))[0].status).toBe(200);
  });
});

describe('key count per account (issue 15.5)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp('sqlite', { env: { MAX_KEYS_PER_ACCOUNT: '3' } });
  });
  afterAll(() => t.close());

  it('refuses a key past MAX_KEYS_PER_ACCOUNT with 409, on both API styles', async () => {
    const owner = await account(t.http);
    const create = (name: string) =>
      t.http.post('/1.0/keys').set('Authorization', basic(owner.masterKey)).send({ name });
    await create('one').expect(200);
    await create('two').expect(200);
    const res = await create('three').expect(409);

    expectEnvelope(res.body, 409);
    expect(res.body.message).toBe(
      'the account already holds 3 keys, the most allowed (MAX_KEYS_PER_ACCOUNT); ' +
        'delete keys it no longer uses (rolled keys count until they are deleted)',
    );
    await t.http
      .post('/api/v1/keys/generate')
      .send({ email: owner.email, password: owner.password, name: 'four' })
      .expect(409);
    // A deleted key frees its place.
    const keys = (
      await t.http.get('/1.0/keys').set('Authorization', basic(owner.masterKey)).expect(200)
    ).body.keys as { id: string; name: string }[];
    const two = keys.find((k) => k.name === 'two')!;
    await t.http
      .delete(`/1.0/keys/${two.id}`)
      .set('Authorization', basic(owner.masterKey))
      .expect(200);
    await create('three').expect(200);
  });

  it('holds the limit under parallel creation', async () => {
    const owner = await account(t.http);
    const burst = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        t.http
          .post('/1.0/keys')
          .set('Authorization', basic(owner.masterKey))
          .send({ name: `k${i}-${randomBytes(2).toString('hex')}` }),
      ),
    );
    expect(statuses(burst)).toEqual({ 200: 2, 409: 8 });
  });
});

describe('paging GET /1.0/keys (issue 15.5)', () => {
  let t: TestApp;
  let owner: TestAccount;
  const names = Array.from({ length: 11 }, (_, i) => `key-${String(i).padStart(2, '0')}`);
  beforeAll(async () => {
    t = await startApp('sqlite');
    owner = await account(t.http);
    for (const name of names) {
      await t.http
        .post('/1.0/keys')
        .set('Authorization', basic(owner.masterKey))
        .send({ name })
        .expect(200);
    }
  });
  afterAll(() => t.close());

  const list = (query: Record<string, string | number> = {}) =>
    t.http.get('/1.0/keys').query(query).set('Authorization', basic(owner.masterKey));

  it('answers as before without paging: every key, no nextCursor', async () => {
    const res = await list().expect(200);

    expect(Object.keys(res.body)).toEqual(['success', 'keys']);
    expect(res.body.keys.map((k: { name: string }) => k.name)).toEqual(['master', ...names]);
  });

  it('ignores other query parameters, as it always did', async () => {
    const res = await list({ _: '1733220000', foo: 'bar' }).expect(200);
    expect(Object.keys(res.body)).toEqual(['success', 'keys']);
    const paged = await list({ limit: 2, _: '1' }).expect(200);
    expect(paged.body.keys).toHaveLength(2);
  });

  it('walks the pages with limit and nextCursor, each key once, in order', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await list(cursor ? { limit: 5, cursor } : { limit: 5 }).expect(200);
      expect(res.body.keys.length).toBeLessThanOrEqual(5);
      seen.push(...res.body.keys.map((k: { name: string }) => k.name));
      cursor = res.body.nextCursor ?? undefined;
      pages++;
    } while (cursor);

    expect(pages).toBe(3);
    expect(seen).toEqual(['master', ...names]);
  });

  it('ends with nextCursor null when the page holds the rest', async () => {
    const res = await list({ limit: 12 }).expect(200);
    expect(res.body.keys).toHaveLength(12);
    expect(res.body.nextCursor).toBeNull();
  });

  it.each([
    [{ limit: 0 }, 'limit must be at least 1'],
    [{ limit: 100_001 }, 'limit must be at most 100000'],
    [{ limit: 'ten' }, 'limit must be a whole number of keys'],
    [{ limit: 2.5 }, 'limit must be a whole number of keys'],
    [{ cursor: 'not-a-cursor' }, 'cursor must be a nextCursor this API returned'],
    [{ cursor: 'x'.repeat(101) }, 'cursor must be a nextCursor this API returned'],
  ])('refuses %j with a 400 that says why', async (query, message) => {
    const res = await list(query).expect(400);
    expectEnvelope(res.body, 400);
    expect(([] as string[]).concat(res.body.message)).toEqual([message]);
  });
});
