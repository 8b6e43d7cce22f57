import { BenchAppModule } from '../src/bench/bench.module';
import { generateKey } from '../src/common/crypto/key-format';
import { UsageMeter } from '../src/usage/usage-meter.service';
import { providers, startApp, TestApp } from './helpers/app';
import { expectEnvelope } from './helpers/envelope';
import { account, basic, TestAccount } from './helpers/factory';

/** A sample's value from Prometheus text, e.g. `keymeter_db_statements_total 12`. */
function sample(metrics: string, name: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`${name} is not in /metrics`);
  return Number(line.slice(name.length + 1));
}

describe('AppModule, what main.ts boots', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp('sqlite');
  });
  afterAll(() => t.close());

  it('has no /__bench routes', async () => {
    const res = await t.http.get('/__bench/noop').expect(404);
    expectEnvelope(res.body, 404);
  });
});

for (const provider of providers()) {
  describe(`the benchmark's routes and database counters [${provider}]`, () => {
    let t: TestApp;
    let owner: TestAccount;
    const statements = async () =>
      sample((await t.http.get('/metrics').expect(200)).text, 'keymeter_db_statements_total');

    beforeAll(async () => {
      // No timed flush: its statements would mix with the ones counted here.
      t = await startApp(provider, {
        root: BenchAppModule,
        env: { USAGE_FLUSH_INTERVAL_MS: '3600000' },
      });
      owner = await account(t.http);
    });
    afterAll(() => t.close());

    it('answers the unguarded route without a key and refuses the metered one', async () => {
      expect((await t.http.get('/__bench/noop').expect(200)).body).toEqual({ ok: true });
      const res = await t.http.get('/__bench/metered').expect(401);
      expectEnvelope(res.body, 401);
    });

    it('meters the guarded route, body bytes included', async () => {
      const auth = basic(owner.masterKey);
      await t.http.get('/__bench/metered').set('Authorization', auth).expect(200, { ok: true });
      await t.http
        .post('/__bench/metered')
        .set('Authorization', auth)
        .send({ pad: 'x'.repeat(90) })
        .expect(200, { ok: true });
      const me = await t.http.get('/1.0/me').set('Authorization', auth).expect(200);
      const { key } = me.body as { key: { usageCount: number; volume: number } };
      // The two bench requests and this /1.0/me call itself.
      expect(key.usageCount).toBe(3);
      expect(key.volume).toBe(JSON.stringify({ pad: 'x'.repeat(90) }).length);
    });

    it('sends no statement for a cached key and one for a new unknown key', async () => {
      const auth = basic(owner.masterKey);
      await t.http.get('/__bench/metered').set('Authorization', auth).expect(200);
      const before = await statements();
      for (let i = 0; i < 20; i++) {
        await t.http.get('/__bench/metered').set('Authorization', auth).expect(200);
      }
      // /metrics itself is public and reads nothing from the database.
      expect(await statements()).toBe(before);

      const unknown = basic(generateKey('km_'));
      for (let i = 0; i < 5; i++) {
        await t.http.get('/__bench/metered').set('Authorization', unknown).expect(401);
      }
      expect(await statements()).toBe(before + 1);
    });

    it('reports the same count in /__bench/stats, and unwritten usage until a flush', async () => {
      const stats = (await t.http.get('/__bench/stats').expect(200)).body as {
        dbQueries: number;
        usagePending: boolean;
        rss: number;
      };
      expect(stats.dbQueries).toBe(await statements());
      expect(stats.rss).toBeGreaterThan(0);

      await t.http.get('/__bench/metered').set('Authorization', basic(owner.masterKey));
      const metrics = (await t.http.get('/metrics').expect(200)).text;
      expect(sample(metrics, 'keymeter_usage_pending_buckets')).toBe(1);
      expect((await t.http.get('/__bench/stats').expect(200)).body.usagePending).toBe(true);

      await t.app.get(UsageMeter).flush();
      const after = (await t.http.get('/metrics').expect(200)).text;
      expect(sample(after, 'keymeter_usage_pending_buckets')).toBe(0);
      expect((await t.http.get('/__bench/stats').expect(200)).body.usagePending).toBe(false);
    });

    it('runs a garbage collection on request', async () => {
      await t.http.post('/__bench/gc').expect(204);
    });
  });
}
