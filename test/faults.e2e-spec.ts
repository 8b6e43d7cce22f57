import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { UsageMeter } from '../src/usage/usage-meter.service';
import { providers, startApp, TestApp } from './helpers/app';
import { account, basic } from './helpers/factory';
import { PgCluster, postgresBinaries, startCluster } from './helpers/pg-cluster';
import { startServer } from './helpers/process';

/** Flushes until nothing is pending (a flush may fail while the database comes back). */
async function flushAll(app: TestApp, timeoutMs = 20_000): Promise<void> {
  const meter = app.app.get(UsageMeter);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await meter.flush();
    if (meter.pendingBuckets === 0) return;
    if (Date.now() > deadline) throw new Error('usage could not be written in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function usageCountOf(app: TestApp, masterKey: string, keyId: string): Promise<number> {
  const res = await app.http.get('/1.0/keys').set('Authorization', basic(masterKey)).expect(200);
  return (res.body.keys as { id: string; usageCount: number }[]).find((k) => k.id === keyId)!
    .usageCount;
}

describe('faults', () => {
  it('refuses to start with a clear message and exit 1 when the database is unreachable', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'keymeter-faults-'));
    try {
      const server = startServer({
        dataDir,
        secret: randomBytes(32).toString('hex'),
        databaseUrl: 'postgresql://postgres@127.0.0.1:1/nowhere',
        startTimeoutMs: 15_000,
      });
      await expect(server).rejects.toThrow(
        /cannot use the database \(PostgreSQL at 127\.0\.0\.1:1\/nowhere\)/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  // Needs the PostgreSQL server binaries to run a cluster of its own; CI has them (and requires them).
  const ownCluster =
    providers().includes('postgresql') &&
    (postgresBinaries() !== null || process.env.KEYMETER_REQUIRE_POSTGRES === '1');
  if (!ownCluster) {
    console.warn('faults: PostgreSQL outage test SKIPPED (no PostgreSQL server binaries here)');
  }
  if (ownCluster) {
    describe('PostgreSQL stops and starts again while keymeter serves', () => {
      let cluster: PgCluster;
      let app: TestApp;
      beforeAll(async () => {
        cluster = await startCluster();
        cluster.createDatabase('keymeter');
        app = await startApp('postgresql', { databaseUrl: cluster.url('keymeter') });
      });
      afterAll(async () => {
        await app?.close().catch(() => undefined);
        cluster?.destroy();
      });

      it('answers 503 while it is down, keeps counting, and writes every count once it is back', async () => {
        const owner = await account(app.http);
        const me = () => app.http.get('/1.0/me').set('x-api-key', owner.masterKey).send({ n: 1 });
        for (let i = 0; i < 3; i++) await me().expect(200);

        cluster.stop();
        for (let i = 0; i < 5; i++) {
          const res = await me();
          expect(res.status).toBe(503);
          expect(res.body).toMatchObject({ success: false, statusCode: 503 });
          expect(res.headers['retry-after']).toBe('1');
        }
        const health = await app.http.get('/health').expect(503);
        expect(health.body.message).toBe('unhealthy: database (unreachable)');
        await app.app.get(UsageMeter).flush(); // fails, and keeps the counts
        expect(app.app.get(UsageMeter).unflushed(owner.masterKeyId)?.count).toBeGreaterThanOrEqual(
          5,
        );

        cluster.start();
        await flushAll(app);
        // 3 before, 5 during the outage (metered: the key came from the cache), and this read.
        expect(await usageCountOf(app, owner.masterKey, owner.masterKeyId)).toBe(9);
      });
    });
  }

  it('keeps counting while another process holds the SQLite write lock, and writes it after', async () => {
    const app = await startApp('sqlite', { env: { USAGE_FLUSH_INTERVAL_MS: '3600000' } });
    const file = path.join(app.dataDir, 'keymeter.db');
    const locker = new Database(file, { timeout: 100 });
    try {
      const owner = await account(app.http);
      await app.app.get(UsageMeter).flush();
      locker.exec('BEGIN IMMEDIATE');
      for (let i = 0; i < 4; i++) {
        await app.http.get('/1.0/me').set('x-api-key', owner.masterKey).expect(200);
      }
      await app.app.get(UsageMeter).flush(); // the file is locked: fails, keeps the counts
      expect(app.app.get(UsageMeter).unflushed(owner.masterKeyId)?.count).toBe(4);
      locker.exec('COMMIT');
      await flushAll(app);
      expect(await usageCountOf(app, owner.masterKey, owner.masterKeyId)).toBe(5);
    } finally {
      locker.close();
      await app.close();
    }
  });
});
