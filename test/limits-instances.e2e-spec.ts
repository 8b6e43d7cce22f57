import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { PeerInstances } from '../src/limits/peer-instances';
import { providers, startApp, TestApp } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';
import { createDatabase, dropDatabase } from './helpers/postgres';

if (providers().includes('postgresql')) {
  describe('quotas and rate limits across instances [postgresql]', () => {
    let databaseUrl: string;
    let a: TestApp | undefined;
    let b: TestApp | undefined;
    let owner: TestAccount;
    const master = () => ({ Authorization: basic(owner.masterKey) });
    const env = { KEYMETER_SECRET: randomBytes(32).toString('hex') };

    beforeAll(async () => {
      databaseUrl = await createDatabase();
      a = await startApp('postgresql', { databaseUrl, env });
      b = await startApp('postgresql', { databaseUrl, env });
      owner = await account(a.http);
    });

    afterAll(async () => {
      await a?.close();
      await b?.close();
      if (databaseUrl) await dropDatabase(databaseUrl);
    });

    async function keyWith(name: string, limits: object): Promise<{ id: string; key: string }> {
      const { body } = await a!.http
        .post('/1.0/keys')
        .set(master())
        .send({ name, ...limits })
        .expect(200);
      const listed = await a!.http.get('/1.0/keys').set(master()).expect(200);
      const id = (listed.body.keys as { id: string; key: string }[]).find(
        (k) => k.key === body.key,
      )!.id;
      return { id, key: body.key as string };
    }

    async function counters(keyId: string): Promise<number> {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        const { rows } = await client.query<{ requests: string }>(
          'SELECT requests FROM quota_counters WHERE key_id = $1',
          [keyId],
        );
        return rows.reduce((sum, r) => sum + Number(r.requests), 0);
      } finally {
        await client.end();
      }
    }

    it('a quota of N admits exactly N across two instances under concurrency', async () => {
      const { id, key } = await keyWith('shared-quota', {
        quota: { requests: 300, period: 'day' },
      });
      const apps = [a!, b!];
      const answers = await Promise.all(
        Array.from({ length: 800 }, (_, i) =>
          apps[i % 2].http.get('/1.0/me').set('x-api-key', key),
        ),
      );
      const admitted = answers.filter((r) => r.status === 200).length;
      expect(admitted).toBe(300);
      expect(answers.every((r) => r.status === 200 || r.body.code === 'USAGE_EXCEEDED')).toBe(true);
      // What the counters handed out never passes the quota.
      expect(await counters(id)).toBeLessThanOrEqual(300);
    });

    it('an idle instance hands its unused slice back, so the other can serve it', async () => {
      // A slice is a twentieth of the quota: A holds 9 unused after one request.
      const { id, key } = await keyWith('handed-back', { quota: { requests: 200, period: 'day' } });
      await a!.http.get('/1.0/me').set('x-api-key', key).expect(200);
      expect(await counters(id)).toBe(10);
      // A clean stop (or LEASE_IDLE_MS of no use) gives the 9 back.
      await a!.close();
      a = undefined;
      expect(await counters(id)).toBe(1);
      let admitted = 0;
      for (let i = 0; i < 220; i++) {
        const res = await b!.http.get('/1.0/me').set('x-api-key', key);
        if (res.status === 200) admitted++;
      }
      expect(admitted).toBe(199);
      a = await startApp('postgresql', { databaseUrl, env });
    });

    it('two instances share a rate limit: each admits its half', async () => {
      await Promise.all([a!, b!].map((app) => app.app.get(PeerInstances).refresh()));
      expect(a!.app.get(PeerInstances).count).toBe(2);
      const { key } = await keyWith('shared-rate', { rateLimit: { limit: 10, windowSeconds: 60 } });
      let admitted = 0;
      for (let i = 0; i < 15; i++) {
        for (const app of [a!, b!]) {
          const res = await app.http.get('/1.0/me').set('x-api-key', key);
          if (res.status === 200) admitted++;
          else expect(res.body.code).toBe('RATE_LIMITED');
        }
      }
      expect(admitted).toBe(10);
    });
  });
} else {
  describe('quotas and rate limits across instances', () => {
    it.skip('needs PostgreSQL (see the banner of global-setup)', () => {});
  });
}
