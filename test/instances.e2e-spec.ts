import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { UsageMeter } from '../src/usage/usage-meter.service';
import { providers, startApp, TestApp } from './helpers/app';
import { basic } from './helpers/factory';
import { createDatabase, dropDatabase } from './helpers/postgres';
import { startServer } from './helpers/process';

/** Sends `total` requests to the apps in turn, `parallel` at a time; returns 2xx per key. */
async function load(
  targets: { post: (key: string, body: string) => Promise<number> }[],
  keys: string[],
  total: number,
  parallel: number,
): Promise<{ counts: Map<string, number>; bytes: Map<string, number> }> {
  const counts = new Map<string, number>();
  const bytes = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const key = keys[i % keys.length];
      const body = JSON.stringify({ pad: 'x'.repeat(i % 97) });
      const status = await targets[i % targets.length].post(key, body);
      if (status >= 200 && status < 300) {
        counts.set(key, (counts.get(key) ?? 0) + 1);
        bytes.set(key, (bytes.get(key) ?? 0) + Buffer.byteLength(body));
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { counts, bytes };
}

describe('several instances', () => {
  if (providers().includes('postgresql')) {
    it('adds up exactly when two instances meter the same keys on one PostgreSQL', async () => {
      const databaseUrl = await createDatabase();
      const secret = randomBytes(32).toString('hex');
      const env = { KEYMETER_SECRET: secret };
      let a: TestApp | undefined;
      let b: TestApp | undefined;
      try {
        [a, b] = await Promise.all([
          startApp('postgresql', { databaseUrl, env }),
          startApp('postgresql', { databaseUrl, env }),
        ]);
        const reg = await a.http
          .post('/api/v1/auth/register')
          .send({ email: `two-${Date.now()}@example.com`, password: 'long enough password' })
          .expect(201);
        const master = reg.body.data.apiKey as string;
        const keys = [master];
        for (let i = 0; i < 4; i++) {
          const res = await a.http
            .post('/1.0/keys')
            .set('Authorization', basic(master))
            .send({ name: `shared ${i}` })
            .expect(200);
          keys.push(res.body.key as string);
        }
        const apps = [a, b];
        const sent = await load(
          apps.map((app) => ({
            post: async (key: string, body: string) =>
              (
                await app.http
                  .get('/1.0/me')
                  .set('x-api-key', key)
                  .set('Content-Type', 'application/json')
                  .send(body)
              ).status,
          })),
          keys,
          1000,
          40,
        );
        await Promise.all(apps.map((app) => app.app.get(UsageMeter).flush()));

        const db = new Client({ connectionString: databaseUrl });
        await db.connect();
        try {
          const { rows } = await db.query<{
            id: string;
            usage_count: string;
            usage_volume: string;
          }>('SELECT id, usage_count, usage_volume FROM api_keys');
          const minutes = await db.query<{ c: string; v: string }>(
            'SELECT SUM(count) AS c, SUM(volume) AS v FROM usage_minutes',
          );
          const listed = await a.http
            .get('/1.0/keys')
            .set('Authorization', basic(master))
            .expect(200);
          const idOf = new Map(
            (listed.body.keys as { id: string; key: string }[]).map((k) => [k.key, k.id]),
          );
          let count = 0;
          let volume = 0;
          for (const key of keys) {
            const row = rows.find((r) => r.id === idOf.get(key))!;
            // The master key also created the 4 keys (flushed); the listing above is not flushed.
            const extra = key === master ? 4 : 0;
            expect(Number(row.usage_count)).toBe((sent.counts.get(key) ?? 0) + extra);
            count += Number(row.usage_count);
            volume += Number(row.usage_volume);
            if (key !== master) expect(Number(row.usage_volume)).toBe(sent.bytes.get(key));
          }
          expect(Number(minutes.rows[0].c)).toBe(count);
          expect(Number(minutes.rows[0].v)).toBe(volume);
        } finally {
          await db.end();
        }
      } finally {
        await a?.close();
        await b?.close();
        await dropDatabase(databaseUrl);
      }
    });
  }

  it('loses at most one flush interval of traffic when the server is killed with SIGKILL', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'keymeter-sigkill-'));
    const secret = randomBytes(32).toString('hex');
    const flushIntervalMs = 500;
    try {
      let server = await startServer({ dataDir, secret, flushIntervalMs });
      const reg = await fetch(`${server.url}/api/v1/auth/register`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: 'kill@example.com', password: 'long enough password' }),
      });
      const { data } = (await reg.json()) as { data: { apiKey: string; id: string } };
      const key = data.apiKey;
      const served: number[] = [];
      const started = Date.now();
      let stop = false;
      const worker = async () => {
        while (!stop) {
          try {
            const res = await fetch(`${server.url}/1.0/me`, { headers: { 'x-api-key': key } });
            await res.arrayBuffer();
            if (res.ok) served.push(Date.now());
          } catch {
            return; // the server is gone
          }
        }
      };
      const workers = Array.from({ length: 8 }, worker);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      server.kill('SIGKILL');
      const killedAt = Date.now();
      stop = true;
      await Promise.all(workers);
      await server.waitForExit(10_000);

      server = await startServer({ dataDir, secret, flushIntervalMs });
      try {
        const res = await fetch(`${server.url}/1.0/keys`, {
          headers: { Authorization: basic(key) },
        });
        const body = (await res.json()) as { keys: { id: string; usageCount: number }[] };
        // The listing itself is one more use, counted in memory by the new instance.
        const stored = body.keys.find((k) => k.id === data.id)!.usageCount - 1;
        const lost = served.length - stored;
        expect(lost).toBeGreaterThanOrEqual(0);
        // Express the loss as time: how long the lost requests took to arrive at the end.
        const lostSince = lost === 0 ? killedAt : served[served.length - lost];
        const lostMs = killedAt - lostSince;
        expect(lostMs).toBeLessThanOrEqual(flushIntervalMs + 250);
        expect(served.length).toBeGreaterThan(100);
        expect(killedAt - started).toBeGreaterThan(2000);
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
