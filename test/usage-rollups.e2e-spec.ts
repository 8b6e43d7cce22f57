import fc from 'fast-check';
import { PrismaService } from '../src/prisma/prisma.service';
import type { Interval } from '../src/usage/usage-range';
import { BucketRow, zeroFill } from './helpers/usage-points';
import { UsageMeter } from '../src/usage/usage-meter.service';
import { Provider, providers, startApp, TestApp } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';

const MINUTE = 60_000;
const DAY = 1440 * MINUTE;
/** A fixed instant, far from now: nothing the tests meter by themselves lands near it. */
const T0 = Date.UTC(2024, 2, 15, 13, 37);

interface MinuteRow {
  minute: number;
  count: number;
  volume: number;
}

/** Raw SQL on the app's own connection, `?` placeholders on both databases. */
function sql(app: TestApp) {
  const prisma = app.app.get(PrismaService);
  const text = (query: string) => {
    let n = 0;
    return prisma.dialect === 'postgresql' ? query.replace(/\?/g, () => `$${++n}`) : query;
  };
  return {
    run: (query: string, ...params: unknown[]) =>
      prisma.db.$executeRawUnsafe(text(query), ...params),
    /** Rows with every value as a string (BIGINT comes back as bigint or string). */
    all: async (query: string, ...params: unknown[]) =>
      (await prisma.db.$queryRawUnsafe<Record<string, unknown>[]>(text(query), ...params)).map(
        (row) => Object.values(row).map(String),
      ),
  };
}

/** The key's hour rows next to what summing its minute rows per hour gives. */
async function rollupsAndMinuteSums(app: TestApp, keyId: string) {
  const db = sql(app);
  return {
    hours: await db.all(
      'SELECT hour, count, volume FROM usage_hours WHERE key_id = ? ORDER BY hour',
      keyId,
    ),
    hourSums: await db.all(
      `SELECT minute / 60 AS hour, CAST(SUM(count) AS BIGINT) AS c, CAST(SUM(volume) AS BIGINT) AS v
       FROM usage_minutes WHERE key_id = ? GROUP BY minute / 60 ORDER BY 1`,
      keyId,
    ),
  };
}

async function createKey(app: TestApp, owner: TestAccount, name: string) {
  const auth = basic(owner.masterKey);
  const created = await app.http
    .post('/1.0/keys')
    .set('Authorization', auth)
    .send({ name })
    .expect(200);
  const listed = await app.http.get('/1.0/keys').set('Authorization', auth).expect(200);
  const { id } = (listed.body.keys as { id: string; name: string }[]).find((k) => k.name === name)!;
  return { key: created.body.key as string, id };
}

function usageOf(app: TestApp, owner: TestAccount, keyId: string, query: Record<string, string>) {
  return app.http
    .get(`/1.0/keys/${keyId}`)
    .query(query)
    .set('Authorization', basic(owner.masterKey))
    .expect(200);
}

const INTERVALS_ABOVE_MINUTE: Interval[] = ['hour', 'day', 'week', 'month'];

/** Random minute rows around T0, with repeats; and a range of at most 92 days among them. */
const arbitraryUsage = fc.record({
  rows: fc.array(
    fc.record({
      minute: fc.integer({ min: (T0 - 100 * DAY) / MINUTE, max: (T0 + 5 * DAY) / MINUTE }),
      count: fc.integer({ min: 1, max: 1000 }),
      volume: fc.nat({ max: 5_000_000_000 }),
    }),
    { minLength: 1, maxLength: 40 },
  ),
  fromMinutesBefore: fc.integer({ min: 0, max: 95 * 1440 }),
  spanMinutes: fc.integer({ min: 0, max: 92 * 1440 }),
});

/** Writes rows as the flush does (additive upserts), in two statements that overlap. */
async function upsertMinutes(app: TestApp, keyId: string, rows: MinuteRow[]): Promise<void> {
  const half = Math.ceil(rows.length / 2);
  for (const part of [rows.slice(0, half), rows.slice(half)]) {
    const merged = new Map<number, MinuteRow>();
    for (const row of part) {
      const seen = merged.get(row.minute);
      if (seen) {
        seen.count += row.count;
        seen.volume += row.volume;
      } else merged.set(row.minute, { ...row });
    }
    if (merged.size === 0) continue;
    const values = [...merged.values()];
    await sql(app).run(
      `INSERT INTO usage_minutes (key_id, minute, count, volume)
       VALUES ${values.map(() => '(?, CAST(? AS INTEGER), CAST(? AS BIGINT), CAST(? AS BIGINT))').join(', ')}
       ON CONFLICT (key_id, minute) DO UPDATE SET
         count = usage_minutes.count + excluded.count, volume = usage_minutes.volume + excluded.volume`,
      ...values.flatMap((r) => [keyId, r.minute, BigInt(r.count), BigInt(r.volume)]),
    );
  }
}

describe.each(providers())('usage rollups on %s', (provider: Provider) => {
  let app: TestApp;
  let owner: TestAccount;
  let keys = 0;

  beforeAll(async () => {
    // No flush on a timer: the tests flush when they mean to.
    app = await startApp(provider, { env: { USAGE_FLUSH_INTERVAL_MS: '3600000' } });
    owner = await account(app.http);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('serves hour, day, week and month buckets equal to summing the minute rows, for any usage', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryUsage, async ({ rows, fromMinutesBefore, spanMinutes }) => {
        const { id } = await createKey(app, owner, `random ${++keys}`);
        await upsertMinutes(app, id, rows);
        const from = new Date(T0 - fromMinutesBefore * MINUTE);
        const to = new Date(from.getTime() + spanMinutes * MINUTE);
        const minuteRows: BucketRow[] = rows.map((r) => ({
          start: r.minute * MINUTE,
          count: r.count,
          volume: r.volume,
        }));
        for (const interval of INTERVALS_ABOVE_MINUTE) {
          const query = { interval, from: from.toISOString(), to: to.toISOString() };
          const res = await usageOf(app, owner, id, query);
          const expected = zeroFill({ from, to, interval }, minuteRows);
          expect(res.text).toBe(JSON.stringify({ success: true, results: expected }));
        }
        const stored = await rollupsAndMinuteSums(app, id);
        expect(stored.hours).toEqual(stored.hourSums);
      }),
      { numRuns: 12 },
    );
  });

  it('keeps the rollups equal to the minute rows through metered flushes', async () => {
    const { id } = await createKey(app, owner, 'metered');
    const meter = app.app.get(UsageMeter);
    let count = 0;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 200; i++) {
        // Around hour and day boundaries, and the same minutes again in every round.
        meter.record(id, i * 7, T0 - ((i * 37) % 4000) * MINUTE);
        count++;
      }
      await meter.flush();
    }
    const stored = await rollupsAndMinuteSums(app, id);
    expect(stored.hours).toEqual(stored.hourSums);
    expect(stored.hours.reduce((n, [, c]) => n + Number(c), 0)).toBe(count);
  });

  it('counts usage not yet flushed exactly once, before and after the flush', async () => {
    const { id } = await createKey(app, owner, 'pending');
    await upsertMinutes(app, id, [{ minute: T0 / MINUTE - 90, count: 5, volume: 50 }]);
    const meter = app.app.get(UsageMeter);
    meter.record(id, 7, T0 - 90 * MINUTE);
    meter.record(id, 9, T0 - 30 * MINUTE);
    const from = new Date(T0 - 3 * 60 * MINUTE).toISOString();
    const to = new Date(T0).toISOString();
    const read = async () => {
      const out: Record<string, string> = {};
      for (const interval of ['minute', ...INTERVALS_ABOVE_MINUTE]) {
        out[interval] = (await usageOf(app, owner, id, { interval, from, to })).text;
      }
      return out;
    };
    const before = await read();
    const totals = (text: string) =>
      (JSON.parse(text) as { results: { count: number; volume: number }[] }).results.reduce(
        (sum, p) => ({ count: sum.count + p.count, volume: sum.volume + p.volume }),
        { count: 0, volume: 0 },
      );
    for (const text of Object.values(before))
      expect(totals(text)).toEqual({ count: 7, volume: 66 });
    expect(meter.unflushed(id)).not.toBeNull();

    await meter.flush();

    expect(meter.unflushed(id)).toBeNull();
    expect(await read()).toEqual(before);
  });

  it('deletes the rollup rows with their key', async () => {
    const { id } = await createKey(app, owner, 'doomed');
    await upsertMinutes(app, id, [
      { minute: T0 / MINUTE, count: 1, volume: 1 },
      { minute: T0 / MINUTE - 2000, count: 2, volume: 2 },
    ]);
    const before = await rollupsAndMinuteSums(app, id);
    expect(before.hours).toHaveLength(2);

    await app.http
      .delete(`/1.0/keys/${id}`)
      .set('Authorization', basic(owner.masterKey))
      .expect(200);

    const after = await rollupsAndMinuteSums(app, id);
    expect(after).toEqual({ hours: [], hourSums: [] });
  });

  it('refuses to move a minute row to another minute, which the rollups could not follow', async () => {
    const { id } = await createKey(app, owner, 'fixed');
    await upsertMinutes(app, id, [{ minute: T0 / MINUTE, count: 1, volume: 1 }]);
    await expect(
      sql(app).run('UPDATE usage_minutes SET minute = minute + 1 WHERE key_id = ?', id),
    ).rejects.toThrow(/cannot change key or minute/);
  });

  it('adds up in the rollups when two instances flush the same keys and minutes', async () => {
    const url =
      app.config.database.provider === 'sqlite'
        ? `file:${app.config.database.file}`
        : app.config.database.url;
    const other = await startApp(provider, {
      databaseUrl: url,
      env: { USAGE_FLUSH_INTERVAL_MS: '3600000' },
    });
    try {
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await createKey(app, owner, `shared ${i}`)).id);
      const meters = [app, other].map((instance) => instance.app.get(UsageMeter));
      for (let round = 0; round < 4; round++) {
        for (const [n, meter] of meters.entries()) {
          for (let i = 0; i < 300; i++) {
            meter.record(ids[i % ids.length], n + 1, T0 - ((i * 13) % 1500) * MINUTE);
          }
        }
        if (provider === 'postgresql') {
          await Promise.all(meters.map((meter) => meter.flush()));
        } else {
          // One process: a second SQLite writer would busy-wait on the event loop that the
          // first one needs to commit (separate processes just take turns).
          for (const meter of meters) await meter.flush();
        }
        expect(meters.map((meter) => meter.pendingBuckets)).toEqual([0, 0]);
      }
      for (const id of ids) {
        const stored = await rollupsAndMinuteSums(app, id);
        expect(stored.hours).toEqual(stored.hourSums);
        // 4 rounds of 60 uses of each key on each instance; volumes 1 and 2 per use.
        expect(
          stored.hours.reduce((n, [, c, v]) => [n[0] + Number(c), n[1] + Number(v)], [0, 0]),
        ).toEqual([480, 720]);
      }
    } finally {
      await other.close();
    }
  });
});
