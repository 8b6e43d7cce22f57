import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { KEY_CHANGES_APPLICATION_NAME, KeyChangeChannel } from '../src/access/key-change-channel';
import { providers, startApp, TestApp } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';
import { createDatabase, dropDatabase } from './helpers/postgres';

/** Long enough that only the channel can explain another instance refusing a changed key. */
const TTL_MS = 600_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `app` with `key` every 10 ms until it is refused; returns how long that took (ms). */
async function untilRefused(app: TestApp, key: string, limitMs = 5000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const res = await app.http.get('/1.0/me').set('x-api-key', key);
    const elapsed = performance.now() - started;
    if (res.status === 401) return elapsed;
    // 404: a deleted key B still trusted got past the gate, and /1.0/me found no such key.
    expect([200, 404]).toContain(res.status);
    if (elapsed > limitMs) throw new Error(`still accepted after ${Math.round(elapsed)} ms`);
    await sleep(10);
  }
}

async function until(condition: () => boolean, limitMs = 5000): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

if (providers().includes('postgresql')) {
  describe('revocation across instances [postgresql]', () => {
    let databaseUrl: string;
    let a: TestApp | undefined;
    let b: TestApp | undefined;
    let owner: TestAccount;

    beforeAll(async () => {
      databaseUrl = await createDatabase();
      const env = { KEYMETER_SECRET: randomBytes(32).toString('hex'), KEY_CACHE_TTL_MS: '600000' };
      a = await startApp('postgresql', { databaseUrl, env });
      b = await startApp('postgresql', { databaseUrl, env });
      expect(a.config.keyCacheTtlMs).toBe(TTL_MS);
      owner = await account(a.http);
    });

    afterAll(async () => {
      await a?.close();
      await b?.close();
      if (databaseUrl) await dropDatabase(databaseUrl);
    });

    /** A new key made on A and used on B, so that B holds it in its cache. */
    async function keyCachedOnB(): Promise<{ id: string; key: string }> {
      const res = await a!.http
        .post('/1.0/keys')
        .set('Authorization', basic(owner.masterKey))
        .send({ name: `shared-${randomBytes(4).toString('hex')}` })
        .expect(200);
      const key = res.body.key as string;
      const listed = await a!.http
        .get('/1.0/keys')
        .set('Authorization', basic(owner.masterKey))
        .expect(200);
      const { id } = (listed.body.keys as { id: string; key: string }[]).find(
        (k) => k.key === key,
      )!;
      // Twice: the second answer comes from B's cache.
      await b!.http.get('/1.0/me').set('x-api-key', key).expect(200);
      await b!.http.get('/1.0/me').set('x-api-key', key).expect(200);
      return { id, key };
    }

    const patch = (id: string, body: object) =>
      a!.http
        .patch(`/1.0/keys/${id}`)
        .set('Authorization', basic(owner.masterKey))
        .send(body)
        .expect(200);

    it('listens on both instances', () => {
      expect(a!.app.get(KeyChangeChannel).listening).toBe(true);
      expect(b!.app.get(KeyChangeChannel).listening).toBe(true);
    });

    it('refuses on B within 1 s a key deactivated on A', async () => {
      const { id, key } = await keyCachedOnB();
      await patch(id, { isActive: false });
      expect(await untilRefused(b!, key)).toBeLessThan(1000);
    });

    it('refuses on B within 1 s a key deleted on A', async () => {
      const { id, key } = await keyCachedOnB();
      await a!.http
        .delete(`/1.0/keys/${id}`)
        .set('Authorization', basic(owner.masterKey))
        .expect((res) => expect(res.status).toBeLessThan(300));
      expect(await untilRefused(b!, key)).toBeLessThan(1000);
    });

    it('accepts on B within 1 s a key reactivated on A', async () => {
      const { id, key } = await keyCachedOnB();
      await patch(id, { isActive: false });
      await untilRefused(b!, key);
      await patch(id, { isActive: true });
      const started = performance.now();
      for (;;) {
        const res = await b!.http.get('/1.0/me').set('x-api-key', key);
        if (res.status === 200) break;
        expect(performance.now() - started).toBeLessThan(1000);
        await sleep(10);
      }
    });

    it('refuses on B, at the instant, a key whose expiry A set after B cached it', async () => {
      const { id, key } = await keyCachedOnB();
      const expiresAt = new Date(Date.now() + 1500);
      await patch(id, { expiresAt: expiresAt.toISOString() });
      // Still good until the instant: B has the new expiry, not a refusal.
      await b!.http.get('/1.0/me').set('x-api-key', key).expect(200);
      await sleep(expiresAt.getTime() - Date.now() + 20);
      const refused = await b!.http.get('/1.0/me').set('x-api-key', key).expect(401);
      expect(refused.body.code).toBe('EXPIRED');
    });

    it('serves a key rolled on A with grace on B until the grace ends, and its successor', async () => {
      const { id, key } = await keyCachedOnB();
      const rolled = await a!.http
        .post(`/1.0/keys/${id}/roll`)
        .set('Authorization', basic(owner.masterKey))
        .send({ gracePeriodSeconds: 2 })
        .expect(200);
      const graceEnd = Date.parse(rolled.body.previous.expiresAt as string);
      await b!.http.get('/1.0/me').set('x-api-key', key).expect(200);
      await b!.http.get('/1.0/me').set('x-api-key', rolled.body.key).expect(200);
      await sleep(graceEnd - Date.now() + 20);
      expect((await b!.http.get('/1.0/me').set('x-api-key', key).expect(401)).body.code).toBe(
        'EXPIRED',
      );
      await b!.http.get('/1.0/me').set('x-api-key', rolled.body.key).expect(200);
    });

    it('refuses on B within 1 s a key rolled on A without grace', async () => {
      const { id, key } = await keyCachedOnB();
      await a!.http
        .post(`/1.0/keys/${id}/roll`)
        .set('Authorization', basic(owner.masterKey))
        .send({})
        .expect(200);
      expect(await untilRefused(b!, key)).toBeLessThan(1000);
    });

    it('clears the cache of B after its channel reconnects, for changes made while it was down', async () => {
      const channel = b!.app.get(KeyChangeChannel);
      const admin = new Client({ connectionString: databaseUrl });
      await admin.connect();
      try {
        // Both instances' listeners: A's does not matter here, and it reconnects too.
        const terminate = async () => {
          const { rows } = await admin.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND datname = current_database()`,
            [KEY_CHANGES_APPLICATION_NAME],
          );
          expect(rows.length).toBeGreaterThanOrEqual(1);
          await until(() => !channel.listening);
        };
        // Dropped soon after each reconnect, B waits 100, 200, then 400 ms before the next: a
        // window wide enough for the change below even on a busy machine.
        for (let i = 0; i < 2; i++) {
          await terminate();
          await until(() => channel.listening);
        }
        // Cached after those reconnects, each of which cleared B's cache.
        const { id, key } = await keyCachedOnB();
        await terminate();
        // The change and its NOTIFY, while B does not listen.
        await patch(id, { isActive: false });
        expect(channel.listening).toBe(false);
        expect(await untilRefused(b!, key, 2000)).toBeLessThan(1000);
        expect(channel.listening).toBe(true);
      } finally {
        await admin.end();
      }
    });
  });
} else {
  describe('revocation across instances', () => {
    it.skip('needs PostgreSQL (see the banner of global-setup)', () => {});
  });
}

describe('the key change channel [sqlite]', () => {
  let app: TestApp | undefined;
  afterAll(() => app?.close());

  it('stays idle on SQLite, where a change still takes effect on the next request', async () => {
    app = await startApp('sqlite', { env: { KEY_CACHE_TTL_MS: String(TTL_MS) } });
    expect(app.app.get(KeyChangeChannel).listening).toBe(false);
    const owner = await account(app.http);
    const res = await app.http
      .post('/1.0/keys')
      .set('Authorization', basic(owner.masterKey))
      .send({ name: 'local' })
      .expect(200);
    await app.http.get('/1.0/me').set('x-api-key', res.body.key).expect(200);
    await app.http
      .patch(`/1.0/keys/${res.body.key}`)
      .set('Authorization', basic(owner.masterKey))
      .send({ isActive: false })
      .expect(200);
    await app.http.get('/1.0/me').set('x-api-key', res.body.key).expect(401);
  });
});
