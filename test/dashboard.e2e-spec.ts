import { createHash } from 'node:crypto';
import type TestAgent from 'supertest/lib/agent';
import { PrismaService } from '../src/prisma/prisma.service';
import { UsageMeter } from '../src/usage/usage-meter.service';
import { describeEachDatabase, startApp } from './helpers/app';
import { ensureDashboardBuilt } from './helpers/browser';
import { account, basic, TestAccount } from './helpers/factory';
import { createKey, expectEnvelope, messageOf } from './helpers/optidash-fixtures';

const HOUR = 3_600_000;
const COOKIE = 'keymeter_session';

interface SignedIn {
  /** `keymeter_session=TOKEN`, for a Cookie header. */
  cookie: string;
  token: string;
  csrf: string;
  /** The Set-Cookie header the sign-in answered with. */
  setCookie: string;
  body: { success: true; data: Record<string, unknown> };
}

function sessionCookieOf(headers: Record<string, unknown>): string | undefined {
  const all = (headers['set-cookie'] as string[] | undefined) ?? [];
  return all.find((c) => c.startsWith(`${COOKIE}=`));
}

async function signIn(
  http: TestAgent,
  who: Pick<TestAccount, 'email' | 'password'>,
  headers: Record<string, string> = {},
): Promise<SignedIn> {
  const res = await http
    .post('/api/v1/auth/session')
    .set(headers)
    .send({ email: who.email, password: who.password })
    .expect(200);
  const setCookie = sessionCookieOf(res.headers);
  if (!setCookie) throw new Error('sign-in set no session cookie');
  const token = setCookie.slice(COOKIE.length + 1).split(';')[0];
  return {
    cookie: `${COOKIE}=${token}`,
    token,
    csrf: res.body.data.csrfToken as string,
    setCookie,
    body: res.body,
  };
}

/** The cookie's attributes, lower-cased names, as a map. */
function attributes(setCookie: string): Map<string, string> {
  return new Map(
    setCookie
      .split(';')
      .slice(1)
      .map((part) => {
        const [name, ...value] = part.trim().split('=');
        return [name.toLowerCase(), value.join('=')] as [string, string];
      }),
  );
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

// Before any app starts: the apps read dashboard/dist when they boot.
beforeAll(() => ensureDashboardBuilt());

describeEachDatabase('dashboard sessions', (ctx) => {
  const prisma = () => ctx().app.get(PrismaService).db;

  describe('signing in', () => {
    it('sets an httpOnly, SameSite=Strict session cookie on / that expires after 12 hours', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const before = Date.now();
      const session = await signIn(http, owner);

      expect(session.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const attrs = attributes(session.setCookie);
      expect(attrs.has('httponly')).toBe(true);
      expect(attrs.get('samesite')).toBe('Strict');
      expect(attrs.get('path')).toBe('/');
      expect(attrs.get('max-age')).toBe(String(12 * 3600));
      expect(attrs.has('secure')).toBe(false);
      expect(session.body).toEqual({
        success: true,
        data: {
          account: { id: owner.accountId, email: owner.email },
          expiresAt: expect.any(String),
          csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
          keysRecoverable: true,
        },
      });
      const expiresAt = Date.parse(session.body.data.expiresAt as string);
      expect(expiresAt).toBeGreaterThanOrEqual(before + 12 * HOUR - 1000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 12 * HOUR + 1000);
    });

    it('marks the cookie Secure when the browser came over HTTPS (X-Forwarded-Proto)', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const session = await signIn(http, owner, { 'X-Forwarded-Proto': 'https' });

      expect(attributes(session.setCookie).has('secure')).toBe(true);
    });

    it('stores only a SHA-256 of the session token', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const session = await signIn(http, owner);

      const rows = await prisma().session.findMany({ where: { accountId: owner.accountId } });
      expect(rows).toHaveLength(1);
      expect(rows[0].tokenHash).toBe(sha256(session.token));
      expect(JSON.stringify(rows)).not.toContain(session.token);
      expect(JSON.stringify(rows)).not.toContain(session.csrf);
    });

    it('refuses a wrong password with 401 and sets no cookie', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const res = await http
        .post('/api/v1/auth/session')
        .send({ email: owner.email, password: 'not the password' })
        .expect(401);

      expectEnvelope(res.body, 401);
      expect(messageOf(res.body)).toBe('wrong email or password');
      expect(sessionCookieOf(res.headers)).toBeUndefined();
    });

    it('throttles repeated failures for one email with 429 and Retry-After', async () => {
      const { http } = ctx();
      const owner = await account(http);
      for (let i = 0; i < 10; i++) {
        await http
          .post('/api/v1/auth/session')
          .send({ email: owner.email, password: `wrong password ${i}` })
          .expect(401);
      }
      const res = await http
        .post('/api/v1/auth/session')
        .send({ email: owner.email, password: owner.password })
        .expect(429);

      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(sessionCookieOf(res.headers)).toBeUndefined();
    });

    it('refuses a sign-in posted from another site or a sibling subdomain (login CSRF)', async () => {
      const { http } = ctx();
      const owner = await account(http);
      for (const site of ['cross-site', 'same-site']) {
        const res = await http
          .post('/api/v1/auth/session')
          .set('Sec-Fetch-Site', site)
          .send({ email: owner.email, password: owner.password })
          .expect(403);

        expectEnvelope(res.body, 403);
        expect(sessionCookieOf(res.headers)).toBeUndefined();
      }
      await signIn(http, owner, { 'Sec-Fetch-Site': 'same-origin' });
    });

    it('refuses a form-encoded or text/plain sign-in: only JSON is read', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const res = await http
        .post('/api/v1/auth/session')
        .type('form')
        .send(`email=${encodeURIComponent(owner.email)}&password=${owner.password}`);

      // A cross-site HTML form can send only this kind of body, text/plain or multipart.
      expect([400, 415]).toContain(res.status);
      expect(sessionCookieOf(res.headers)).toBeUndefined();
      const plain = await http
        .post('/api/v1/auth/session')
        .type('text/plain')
        .send(JSON.stringify({ email: owner.email, password: owner.password }));
      expect([400, 415]).toContain(plain.status);
      expect(sessionCookieOf(plain.headers)).toBeUndefined();
    });

    it('validates the body like registration does', async () => {
      const { http } = ctx();
      const res = await http
        .post('/api/v1/auth/session')
        .send({ email: 'nope', password: 'x', remember: true })
        .expect(400);

      const message = messageOf(res.body);
      expect(message).toMatch(/email must be a valid email address/);
      expect(message).toMatch(/property remember should not exist/);
    });

    it('ends the session the browser held when it signs in again', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const first = await signIn(http, owner);
      const second = await signIn(http, owner, { Cookie: first.cookie });

      expect(second.token).not.toBe(first.token);
      await http.get('/api/v1/auth/session').set('Cookie', first.cookie).expect(401);
      await http.get('/api/v1/auth/session').set('Cookie', second.cookie).expect(200);
    });
  });

  describe('who am I', () => {
    it('answers the account, expiry and CSRF token of the session, never cached', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const session = await signIn(http, owner);
      const res = await http.get('/api/v1/auth/session').set('Cookie', session.cookie).expect(200);

      expect(res.body).toEqual(session.body);
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('is 401 without a cookie, with a malformed one and with an unknown one', async () => {
      const { http } = ctx();
      for (const cookie of [
        undefined,
        `${COOKIE}=short`,
        `${COOKIE}=${'A'.repeat(43)}`,
        `other=${'A'.repeat(43)}`,
      ]) {
        const req = http.get('/api/v1/auth/session');
        const res = await (cookie ? req.set('Cookie', cookie) : req).expect(401);
        expectEnvelope(res.body, 401);
        expect(messageOf(res.body)).toBe('sign in first');
      }
    });

    it('does not take an API key instead of a session', async () => {
      const { http } = ctx();
      const owner = await account(http);
      await http
        .get('/api/v1/auth/session')
        .set('Authorization', basic(owner.masterKey))
        .expect(401);
    });
  });

  describe('the browser challenge', () => {
    it('keeps the Basic challenge for API clients', async () => {
      const { http } = ctx();
      const res = await http.get('/1.0/keys').expect(401);

      expect(res.headers['www-authenticate']).toBe('Basic realm="keymeter"');
    });

    it('answers scripts (X-Requested-With) with a challenge browsers do not prompt for', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const wrong = await http
        .post('/api/v1/auth/session')
        .set('X-Requested-With', 'XMLHttpRequest')
        .send({ email: owner.email, password: 'not the password' })
        .expect(401);
      const expired = await http
        .get('/1.0/keys')
        .set('X-Requested-With', 'XMLHttpRequest')
        .set('Cookie', `${COOKIE}=${'A'.repeat(43)}`)
        .expect(401);

      for (const res of [wrong, expired]) {
        expect(res.headers['www-authenticate']).toBe('Session realm="keymeter"');
        expectEnvelope(res.body, 401);
      }
    });
  });

  describe('the session in place of the master key', () => {
    it('lists, creates, renames, deactivates and deletes keys, and reads usage', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const { cookie, csrf } = await signIn(http, owner);
      const withSession = { Cookie: cookie, 'X-CSRF-Token': csrf };

      const created = await http
        .post('/1.0/keys')
        .set(withSession)
        .send({ name: 'from the dashboard' })
        .expect(200);
      expect(created.body).toEqual({
        success: true,
        name: 'from the dashboard',
        key: expect.stringMatching(/^km_/),
      });
      const list = await http.get('/1.0/keys').set('Cookie', cookie).expect(200);
      const key = (list.body.keys as { id: string; name: string }[]).find(
        (k) => k.name === 'from the dashboard',
      );
      expect(key).toBeDefined();
      const id = key!.id;

      await http.put(`/1.0/keys/${id}`).set(withSession).send({ name: 'renamed' }).expect(200);
      const patched = await http
        .patch(`/1.0/keys/${id}`)
        .set(withSession)
        .send({ isActive: false })
        .expect(200);
      expect(patched.body.apiKey).toMatchObject({ id, name: 'renamed', isActive: false });
      await http.get('/1.0/me').set('x-api-key', created.body.key).expect(401);

      const usage = await http
        .get(`/1.0/keys/${id}?interval=day&from=2021-01-01&to=2021-01-03T23:59:59`)
        .set('Cookie', cookie)
        .expect(200);
      expect(usage.body.results).toHaveLength(3);
      await http
        .get(`/1.0/keys/${id}?from=2021-01-05&to=2021-01-01`)
        .set('Cookie', cookie)
        .expect(400);

      await http.delete(`/1.0/keys/${id}`).set(withSession).expect(200);
      await http.get(`/1.0/keys/${id}`).set('Cookie', cookie).expect(404);
    });

    it('is not metered: the master key stays unused', async () => {
      const { http, app } = ctx();
      const owner = await account(http);
      const { cookie, csrf } = await signIn(http, owner);
      for (let i = 0; i < 3; i++) await http.get('/1.0/keys').set('Cookie', cookie).expect(200);
      await http
        .post('/1.0/keys')
        .set({ Cookie: cookie, 'X-CSRF-Token': csrf })
        .send({ name: 'made with a session' })
        .expect(200);
      await http.get(`/1.0/keys/${owner.masterKeyId}`).set('Cookie', cookie).expect(200);

      await app.get(UsageMeter).flush();
      const list = await http.get('/1.0/keys').set('Cookie', cookie).expect(200);
      for (const key of list.body.keys as { usageCount: number; volume: number }[]) {
        expect(key).toMatchObject({ usageCount: 0, volume: 0, lastUsedAt: null });
      }
      const rows = await prisma().usageMinute.count({ where: { keyId: owner.masterKeyId } });
      expect(rows).toBe(0);
    });

    it('refuses state-changing requests without the CSRF token, or with another session’s', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const session = await signIn(http, owner);
      const other = await signIn(http, await account(http));
      const target = await createKey(http, owner.masterKey, 'target');

      const attempts = [
        () => http.post('/1.0/keys').send({ name: 'forged' }),
        () => http.put(`/1.0/keys/${target.id}`).send({ name: 'forged' }),
        () => http.patch(`/1.0/keys/${target.id}`).send({ isActive: false }),
        () => http.delete(`/1.0/keys/${target.id}`),
        () => http.delete('/api/v1/auth/session'),
      ];
      for (const csrf of [undefined, '', other.csrf, session.token]) {
        for (const attempt of attempts) {
          const req = attempt().set('Cookie', session.cookie);
          const res = await (csrf === undefined ? req : req.set('X-CSRF-Token', csrf)).expect(403);
          expectEnvelope(res.body, 403);
          expect(messageOf(res.body)).toMatch(/x-csrf-token/);
        }
      }
      const list = await http.get('/1.0/keys').set('Cookie', session.cookie).expect(200);
      expect(list.body.keys.map((k: { name: string }) => k.name)).toEqual(['master', 'target']);
      expect(list.body.keys[1].isActive).toBe(true);
    });

    it("never reaches another account's keys: 404 as for a key that does not exist", async () => {
      const { http } = ctx();
      const owner = await account(http);
      const stranger = await account(http);
      const theirs = await createKey(http, stranger.masterKey, 'theirs');
      const { cookie, csrf } = await signIn(http, owner);

      await http.get(`/1.0/keys/${theirs.id}`).set('Cookie', cookie).expect(404);
      await http.get(`/1.0/keys/${theirs.key}`).set('Cookie', cookie).expect(404);
      await http
        .patch(`/1.0/keys/${theirs.id}`)
        .set({ Cookie: cookie, 'X-CSRF-Token': csrf })
        .send({ isActive: false })
        .expect(404);
      const list = await http.get('/1.0/keys').set('Cookie', cookie).expect(200);
      expect(list.body.keys).toHaveLength(1);
    });

    it('lets a key sent with the request decide, not the cookie', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const plain = await createKey(http, owner.masterKey, 'plain');
      const { cookie } = await signIn(http, owner);

      const res = await http
        .get('/1.0/keys')
        .set({ Cookie: cookie, 'x-api-key': plain.key })
        .expect(403);
      expect(messageOf(res.body)).toBe('this route needs the account master key');
    });

    it('is not a key: routes for any key refuse a session alone', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const { cookie } = await signIn(http, owner);

      await http.get('/1.0/me').set('Cookie', cookie).expect(401);
      await http.get('/1.0/me/usage').set('Cookie', cookie).expect(401);
    });
  });

  describe('expiry and sign-out', () => {
    it('stops accepting a session once it has expired', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const { cookie, token } = await signIn(http, owner);
      await http.get('/1.0/keys').set('Cookie', cookie).expect(200);

      await prisma().session.update({
        where: { tokenHash: sha256(token) },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });
      await http.get('/api/v1/auth/session').set('Cookie', cookie).expect(401);
      await http.get('/1.0/keys').set('Cookie', cookie).expect(401);
    });

    it('deletes expired sessions when someone signs in', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const { token } = await signIn(http, owner);
      await prisma().session.update({
        where: { tokenHash: sha256(token) },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });
      await signIn(http, await account(http));

      expect(await prisma().session.count({ where: { tokenHash: sha256(token) } })).toBe(0);
    });

    it('signs out: the session ends on the server and the cookie is cleared', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const { cookie, csrf, token } = await signIn(http, owner);

      const res = await http
        .delete('/api/v1/auth/session')
        .set({ Cookie: cookie, 'X-CSRF-Token': csrf })
        .expect(200);
      expect(res.body).toEqual({ success: true });
      const cleared = sessionCookieOf(res.headers);
      expect(cleared).toBeDefined();
      expect(cleared).toMatch(new RegExp(`^${COOKIE}=;`));
      expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/);
      expect(await prisma().session.count({ where: { tokenHash: sha256(token) } })).toBe(0);
      await http.get('/1.0/keys').set('Cookie', cookie).expect(401);
    });
  });

  describe('serving the page', () => {
    it('serves the dashboard at / with helmet’s CSP and no caching of the page', async () => {
      const { http } = ctx();
      const res = await http.get('/').expect(200);

      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      const csp = res.headers['content-security-policy'] as string;
      expect(csp).toMatch(/(^|; )script-src 'self'(;|$)/);
      expect(csp).toMatch(/(^|; )style-src 'self'(;|$)/);
      expect(csp).toMatch(/(^|; )connect-src 'self'(;|$)/);
      expect(csp).toMatch(/(^|; )frame-ancestors 'none'(;|$)/);
      // It would send the page's own files to https:// when served over plain HTTP.
      expect(csp).not.toMatch(/upgrade-insecure-requests/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.text).not.toMatch(/<script>|<script [^>]*>[^<]/);
      const assets = [...res.text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
      expect(assets).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/\.js$/),
          expect.stringMatching(/\.css$/),
          expect.stringMatching(/\.svg$/),
        ]),
      );
      for (const asset of assets) {
        const file = await http.get(asset).expect(200);
        expect(file.headers['cache-control']).toBe('public, max-age=31536000, immutable');
        expect(file.headers['content-type']).toMatch(/^(text\/javascript|text\/css|image\/svg)/);
      }
      const again = await http.get('/').set('If-None-Match', res.headers.etag).expect(304);
      expect(again.text).toBeFalsy();
    });

    it('answers 404 for any other file, a path that climbs out included', async () => {
      const { http } = ctx();
      for (const path of [
        '/assets/nope.js',
        '/assets/..%2F..%2Fpackage.json',
        '/assets/%2e%2e%2Findex.html',
        '/assets/.env',
      ]) {
        const res = await http.get(path).expect(404);
        expectEnvelope(res.body, 404);
      }
    });
  });

  describe('the OpenAPI document', () => {
    it('documents sign-in, who-am-I and sign-out, and the session as a security scheme', async () => {
      const { http } = ctx();
      const doc = (await http.get('/docs-json').expect(200)).body;

      expect(Object.keys(doc.paths['/api/v1/auth/session']).sort()).toEqual([
        'delete',
        'get',
        'post',
      ]);
      expect(doc.components.securitySchemes.session).toMatchObject({
        type: 'apiKey',
        in: 'cookie',
        name: COOKIE,
      });
      expect(doc.paths['/1.0/keys'].get.security).toEqual(
        expect.arrayContaining([{ session: [] }, { basic: [] }]),
      );
      expect(doc.paths['/1.0/me'].get.security).not.toEqual(
        expect.arrayContaining([{ session: [] }]),
      );
      expect(doc.paths['/']).toBeUndefined();
    });
  });
});

describe('SESSION_TTL_HOURS', () => {
  it('sets how long a session lasts', async () => {
    const testApp = await startApp('sqlite', { env: { SESSION_TTL_HOURS: '1' } });
    try {
      const owner = await account(testApp.http);
      const session = await signIn(testApp.http, owner);

      expect(attributes(session.setCookie).get('max-age')).toBe('3600');
      const expiresAt = Date.parse(session.body.data.expiresAt as string);
      expect(Math.abs(expiresAt - (Date.now() + HOUR))).toBeLessThan(5000);
    } finally {
      await testApp.close();
    }
  });
});
