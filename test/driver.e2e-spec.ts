import Database from 'better-sqlite3';
import { Client } from 'pg';
import { numberedPlaceholders } from '../src/prisma/driver';
import { DatabaseDriver } from '../src/prisma/database-driver';
import { PrismaService } from '../src/prisma/prisma.service';
import { providers, startApp, TestApp } from './helpers/app';
import { account, TestAccount } from './helpers/factory';

describe('numberedPlaceholders', () => {
  it('numbers ? in order for PostgreSQL', () => {
    expect(numberedPlaceholders('SELECT a FROM t WHERE b = ? AND c BETWEEN ? AND ?')).toBe(
      'SELECT a FROM t WHERE b = $1 AND c BETWEEN $2 AND $3',
    );
  });
});

const pgUrl = (t: TestApp): string => {
  if (t.config.database.provider !== 'postgresql') throw new Error('not on PostgreSQL');
  return t.config.database.url;
};

for (const provider of providers()) {
  describe(`SQL on the driver [${provider}]`, () => {
    let t: TestApp;
    let owner: TestAccount;
    let prisma: PrismaService;
    let driver: DatabaseDriver;
    const sql = 'SELECT id, name, is_master FROM api_keys WHERE account_id = ? ORDER BY name';

    beforeAll(async () => {
      t = await startApp(provider);
      owner = await account(t.http);
      prisma = t.app.get(PrismaService);
      driver = t.app.get(DatabaseDriver);
    });
    afterAll(() => t.close());

    it('returns rows as arrays in column order, and counts each read as one statement', async () => {
      const before = prisma.statements;
      const rows = await driver.rows(sql, [owner.accountId]);
      expect(rows).toEqual([[owner.masterKeyId, 'master', provider === 'sqlite' ? 1 : true]]);
      expect(await driver.rows(sql, ['no such account'])).toEqual([]);
      expect(prisma.statements).toBe(before + 2);
    });

    it('sees what Prisma wrote a moment ago', async () => {
      await prisma.db.apiKey.update({
        where: { id: owner.masterKeyId },
        data: { name: 'renamed' },
      });
      expect(await driver.rows(sql, [owner.accountId])).toEqual([
        [owner.masterKeyId, 'renamed', provider === 'sqlite' ? 1 : true],
      ]);
    });

    if (provider === 'sqlite') {
      it("commits durably on Prisma's connection: WAL with synchronous FULL", async () => {
        const [{ journal_mode }] =
          await prisma.db.$queryRawUnsafe<{ journal_mode: string }[]>('PRAGMA journal_mode');
        const [{ synchronous }] =
          await prisma.db.$queryRawUnsafe<{ synchronous: unknown }[]>('PRAGMA synchronous');
        expect(journal_mode).toBe('wal');
        expect(Number(synchronous)).toBe(2);
      });
    }

    const names = async () => (await driver.rows(sql, [owner.accountId])).map((row) => row[1]);
    const rename = (name: string) => ({
      sql: 'UPDATE api_keys SET name = ? WHERE id = ?',
      runs: [[name, owner.masterKeyId]],
    });

    it('commits every step of a transaction, each run once per parameter list', async () => {
      const before = prisma.statements;
      await driver.transaction([
        rename('first'),
        {
          sql: 'UPDATE api_keys SET usage_count = usage_count + ? WHERE id = ?',
          runs: [
            [2, owner.masterKeyId],
            [3, owner.masterKeyId],
          ],
        },
      ]);
      expect(prisma.statements).toBe(before + 3);
      expect(await names()).toEqual(['first']);
      const stored = await prisma.db.apiKey.findUniqueOrThrow({ where: { id: owner.masterKeyId } });
      expect(Number(stored.usageCount)).toBe(5);
    });

    it('hands what a step returned to its then(), whose steps run in the same transaction', async () => {
      const seen: unknown[][][] = [];
      const total = async () =>
        Number(
          (await prisma.db.apiKey.findUniqueOrThrow({ where: { id: owner.masterKeyId } }))
            .usageCount,
        );
      const start = await total();
      await driver.transaction([
        {
          sql: 'UPDATE api_keys SET usage_count = usage_count + ? WHERE id = ? RETURNING usage_count',
          runs: [
            [4, owner.masterKeyId],
            [1, 'no such key'],
          ],
          then: (results) => {
            seen.push(...results);
            // Decided on the total this transaction has written so far.
            const after = Number(results[0][0][0]);
            return [
              {
                sql: 'UPDATE api_keys SET usage_count = ? WHERE id = ?',
                runs: [[after * 10, owner.masterKeyId]],
              },
            ];
          },
        },
      ]);
      expect(seen.map((rows) => rows.map((row) => row.map(Number)))).toEqual([[[start + 4]], []]);
      expect(await total()).toBe((start + 4) * 10);
      // A failure in what then() gave rolls back the step before it too.
      await expect(
        driver.transaction([
          {
            sql: 'UPDATE api_keys SET usage_count = usage_count + 1 WHERE id = ? RETURNING id',
            runs: [[owner.masterKeyId]],
            then: () => [{ sql: 'UPDATE nope SET x = 1', runs: [[]] }],
          },
        ]),
      ).rejects.toMatchObject({ message: expect.stringMatching(/nope/) as unknown });
      expect(await total()).toBe((start + 4) * 10);
    });

    it('rolls back the steps already run when a later one fails', async () => {
      await expect(
        driver.transaction([rename('half done'), { sql: 'UPDATE nope SET x = 1', runs: [[]] }]),
      ).rejects.toMatchObject({ message: expect.stringMatching(/nope/) as unknown });
      expect(await names()).toEqual(['first']);
      // The connection is usable afterwards.
      await driver.transaction([rename('second')]);
      expect(await names()).toEqual(['second']);
    });

    if (provider === 'postgresql') {
      it('survives the server ending the connection in the middle of a transaction', async () => {
        // The backend ends itself: the step fails with the server's FATAL, then the socket closes
        // while the client is still checked out of the pool, an 'error' event with no listener of
        // the pool's on it. Unheard, that event would end the process (and fail this test).
        await expect(
          driver.transaction([
            rename('never written'),
            { sql: 'SELECT pg_terminate_backend(pg_backend_pid())', runs: [[]] },
          ]),
        ).rejects.toMatchObject({
          message: expect.stringMatching(/terminating connection/) as unknown,
        });
        // Let the closed socket's events arrive, then write on a fresh connection.
        await new Promise((resolve) => setTimeout(resolve, 100));
        await driver.transaction([rename('after the outage')]);
        expect(await names()).toEqual(['after the outage']);
      });
    }

    if (provider === 'postgresql') {
      it('runs a transaction again when PostgreSQL ends it as the victim of a deadlock', async () => {
        const second = (await driver.rows(sql, [owner.accountId])).length;
        expect(second).toBe(1);
        // Another connection holds the key row, and will want the account row that the
        // driver's transaction takes first: a deadlock, detected after deadlock_timeout (1 s) by
        // the backend that waited first (the driver's), which ends its own transaction.
        const other = new Client({ connectionString: pgUrl(t) });
        await other.connect();
        try {
          await other.query('BEGIN');
          await other.query("UPDATE api_keys SET name = 'held' WHERE id = $1", [owner.masterKeyId]);
          const written = driver.transaction([
            {
              sql: 'UPDATE accounts SET email = email WHERE id = ?',
              runs: [[owner.accountId]],
            },
            rename('after the deadlock'),
          ]);
          await new Promise((resolve) => setTimeout(resolve, 200));
          const stuck = other
            .query('UPDATE accounts SET email = email WHERE id = $1', [owner.accountId])
            .then(() => other.query('ROLLBACK'));
          await written;
          await stuck;
        } finally {
          await other.end();
        }
        expect(await names()).toEqual(['after the deadlock']);
      });
    }

    if (provider === 'sqlite') {
      it('waits for a write lock held elsewhere without blocking the event loop', async () => {
        const other = new Database((t.config.database as { file: string }).file);
        try {
          other.prepare('BEGIN IMMEDIATE').run();
          let ticks = 0;
          const ticker = setInterval(() => ticks++, 5);
          const writing = driver.transaction([rename('after the lock')]);
          await new Promise((resolve) => setTimeout(resolve, 100));
          expect(await names()).toEqual(['second']);
          other.prepare('COMMIT').run();
          await writing;
          clearInterval(ticker);
          expect(ticks).toBeGreaterThanOrEqual(5);
          expect(await names()).toEqual(['after the lock']);
        } finally {
          other.close();
        }
      });
    }

    if (provider === 'sqlite') {
      it('waits for the lock in a writing statement that returns rows, too (quota leases)', async () => {
        const other = new Database((t.config.database as { file: string }).file);
        try {
          other.prepare('BEGIN IMMEDIATE').run();
          let ticks = 0;
          const ticker = setInterval(() => ticks++, 5);
          const writing = driver.writeRows(
            'UPDATE api_keys SET name = ? WHERE id = ? RETURNING name',
            ['returned', owner.masterKeyId],
          );
          await new Promise((resolve) => setTimeout(resolve, 100));
          other.prepare('COMMIT').run();
          expect(await writing).toEqual([['returned']]);
          clearInterval(ticker);
          expect(ticks).toBeGreaterThanOrEqual(5);
        } finally {
          other.close();
        }
      });
    }

    it('rejects a bad statement instead of throwing synchronously', async () => {
      // The driver's error may come from another realm than Jest's: match its message.
      await expect(driver.rows('SELECT nope FROM api_keys', [])).rejects.toMatchObject({
        message: expect.stringMatching(/nope/) as unknown,
      });
    });
  });
}

describe('Prisma and the driver writing one SQLite file', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Strict metering: every request is a driver transaction, in the middle of the API's
    // Prisma writes (nested creates, updates, deletes) on the other connection.
    t = await startApp('sqlite', { env: { USAGE_FLUSH_INTERVAL_MS: '0' } });
  });
  afterAll(() => t.close());

  it('lets key and account writes and strict-mode metering run together without an error', async () => {
    const owner = await account(t.http);
    const auth = { 'x-api-key': owner.masterKey };
    let metered = 0;
    let stop = false;
    const meter = async () => {
      while (!stop) {
        await t.http.get('/1.0/me').set(auth).expect(200);
        metered++;
      }
    };
    const lifecycle = async (i: number) => {
      const created = await t.http
        .post('/1.0/keys')
        .set(auth)
        .send({ name: `k${i}` })
        .expect(200);
      const key = created.body.key as string;
      await t.http
        .patch(`/1.0/keys/${key}`)
        .set(auth)
        .send({ name: `r${i}` })
        .expect(200);
      await account(t.http);
      await t.http.delete(`/1.0/keys/${key}`).set(auth).expect(200);
    };
    const meters = Array.from({ length: 8 }, meter);
    for (let round = 0; round < 6; round++) {
      await Promise.all(Array.from({ length: 5 }, (_, j) => lifecycle(round * 5 + j)));
    }
    stop = true;
    await Promise.all(meters);
    const me = await t.http.get('/1.0/me').set(auth).expect(200);
    // Every request made with the master key is in its total, this one included: the metered
    // ones and 3 per key (create, rename, delete). Strict mode wrote each before answering.
    expect(metered).toBeGreaterThan(0);
    expect(me.body.key.usageCount).toBe(metered + 6 * 5 * 3 + 1);
  });
});
