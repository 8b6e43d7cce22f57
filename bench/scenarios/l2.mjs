// L2 and L3: a quota is exact under concurrency, on one instance and on two sharing a PostgreSQL
// database, and what it costs the database. See docs/benchmarks.md.
import { DirectDb, PgTarget, SqliteTarget } from '../lib/db.mjs';
import { blast } from '../lib/load.mjs';
import { waitForFlush } from '../lib/measure.mjs';
import { SETTLE_MS } from '../lib/options.mjs';
import { createKey, listKeys, register } from '../lib/seed.mjs';
import { basicAuth, round, sleep } from '../lib/util.mjs';

const CONNECTIONS = 100;
/** A PostgreSQL backend reports its table statistics within 10 s of going idle (PG 15+). */
const PG_STATS_SETTLE_MS = 11_000;

/**
 * Statements that wrote quota_counters, as PostgreSQL counts them: each lease is one INSERT ..
 * ON CONFLICT DO UPDATE of one row and each hand-back one UPDATE of one row, so inserted +
 * updated rows are the quota's own statements (null on SQLite, which keeps no such count).
 */
async function quotaWrites(ctx, db) {
  if (ctx.kind !== 'postgresql') return null;
  await sleep(PG_STATS_SETTLE_MS);
  const [row] = await db.all(
    `SELECT n_tup_ins + n_tup_upd AS n FROM pg_stat_user_tables WHERE relname = 'quota_counters'`,
  );
  return Number(row?.n ?? 0);
}

/**
 * GET /__bench/metered with `key`, `amount` times, at `connections`: what came back, with every
 * 429's code read from its body.
 */
function quotaLoad(server, key, amount, connections) {
  const tally = { admitted: 0, codes: {}, refusals: {} };
  const headers = { authorization: basicAuth(key) };
  const requests = [
    {
      method: 'GET',
      path: '/__bench/metered',
      headers,
      onResponse: (status, body) => {
        tally.codes[status] = (tally.codes[status] ?? 0) + 1;
        if (status === 200) tally.admitted++;
        else if (status === 429) {
          let code = 'unreadable';
          try {
            code = JSON.parse(body).code ?? 'none';
          } catch {
            // counted as unreadable
          }
          tally.refusals[code] = (tally.refusals[code] ?? 0) + 1;
        }
      },
    },
  ];
  return blast({ port: server.port, connections, amount, requests }).then((r) => ({
    ...tally,
    rps: round(r.rps, 0),
    duration_s: round(r.duration_s, 2),
    errors: r.errors + r.timeouts,
  }));
}

/**
 * A new key with a quota of `quota` requests (period total) on servers[0], then `requests`
 * requests at CONNECTIONS connections split evenly over `servers`, all at once. Statements are
 * the servers' own count (/__bench/stats dbQueries, the same counter as /metrics'
 * keymeter_db_statements_total): every statement Prisma's adapter and keymeter's driver send,
 * on each server, from just before the load until the usage and refusals it produced are
 * written (waitForFlush, and one more flush interval for the refusal counts).
 */
async function quotaRun(ctx, servers, master, label, db) {
  const { quota, requests } = ctx.P.limits;
  const key = await createKey(servers[0], master, `l2-${label}-${Date.now()}`, {
    quota: { requests: quota, period: 'total' },
  });
  const writesBefore = await quotaWrites(ctx, db);
  const before = await Promise.all(servers.map((s) => s.stats()));
  const t0 = performance.now();
  const per = servers.map(
    (_, i) => Math.floor(requests / servers.length) + (i < requests % servers.length ? 1 : 0),
  );
  const loads = await Promise.all(
    servers.map((s, i) => quotaLoad(s, key, per[i], CONNECTIONS / servers.length)),
  );
  const loadS = (performance.now() - t0) / 1000;
  const afterLoad = await Promise.all(servers.map((s) => s.stats()));
  await Promise.all(servers.map((s) => waitForFlush(s)));
  await sleep(SETTLE_MS);
  const after = await Promise.all(servers.map((s) => s.stats()));
  const writesAfter = await quotaWrites(ctx, db);
  const admitted = loads.reduce((n, l) => n + l.admitted, 0);
  const sum = (snap) => snap.reduce((n, s, i) => n + s.dbQueries - before[i].dbQueries, 0);
  const statements = sum(after);
  const refusals = {};
  for (const l of loads)
    for (const [code, n] of Object.entries(l.refusals)) refusals[code] = (refusals[code] ?? 0) + n;
  // What the counters handed out (served, or held unused by an instance): never past the quota.
  const id = (await listKeys(servers[0], master)).find((k) => k.key === key)?.id;
  const rows = await db.all('SELECT requests FROM quota_counters WHERE key_id = ?', [id]);
  return {
    admitted,
    quota,
    requests,
    instances: servers.length,
    connections: CONNECTIONS,
    refusals,
    client_errors: loads.reduce((n, l) => n + l.errors, 0),
    per_instance: loads.map((l, i) => ({
      requests: per[i],
      admitted: l.admitted,
      codes: l.codes,
      rps: l.rps,
      duration_s: l.duration_s,
      errors: l.errors,
    })),
    counters_requests: rows.reduce((n, r) => n + Number(r.requests), 0),
    load_s: round(loadS, 2),
    statements: {
      during_load: sum(afterLoad),
      until_written: statements,
      per_instance: after.map((s, i) => s.dbQueries - before[i].dbQueries),
      per_10k_admitted: round((statements * 10_000) / Math.max(1, admitted), 1),
      // Of them, the leases and hand-backs (PostgreSQL's row counts of quota_counters); the
      // rest is what runs by the clock whatever the quota: each instance's usage flush (two
      // statements a second while it serves, one more for the refusals), key lookups when the
      // cache entry expires (5 s), the instance count (5 s).
      // Statements by the clock are per second, not per request: this says how they add up.
      per_second: round(statements / Math.max(0.001, loadS), 2),
      quota_counters_writes: writesAfter === null ? null : writesAfter - writesBefore,
      quota_counters_writes_per_10k_admitted:
        writesAfter === null
          ? null
          : round(((writesAfter - writesBefore) * 10_000) / Math.max(1, admitted), 1),
    },
  };
}

async function run(ctx) {
  const pg = ctx.kind === 'postgresql';
  const target = pg
    ? await new PgTarget(ctx.opts['pg-url'], 'l2').create()
    : new SqliteTarget(ctx.runRoot, 'l2');
  const A = ctx.server({ name: `${ctx.kind}-l2-a`, target });
  const B = pg ? ctx.server({ name: `${ctx.kind}-l2-b`, target, secret: A.secret }) : null;
  let db;
  try {
    await A.start();
    db = await DirectDb.open(target);
    const account = await register(A, 'l2');
    const single = await quotaRun(ctx, [A], account.master, 'single', db);
    const results = {
      L2: {
        fields: { quota_admitted_single: single.admitted },
        details: { single },
      },
    };
    if (B) {
      await B.start();
      const two = await quotaRun(ctx, [A, B], account.master, 'two', db);
      results.L2.fields.quota_admitted_two = two.admitted;
      results.L2.details.two = two;
      if (ctx.want('L3')) {
        results.L3 = {
          fields: {
            quota_statements_per_10k: two.statements.per_10k_admitted,
            quota_lease_statements_per_10k: two.statements.quota_counters_writes_per_10k_admitted,
          },
          details: {
            counted:
              "every statement sent by Prisma's adapter and keymeter's driver on both instances " +
              '(/__bench/stats dbQueries = keymeter_db_statements_total), from just before the ' +
              'L2 two-instance load until its usage and refusals were written; not the key-change ' +
              "listener's own connection (LISTEN), which sends nothing per request",
            admitted: two.admitted,
            requests: two.requests,
            statements: two.statements,
            single_instance_per_10k_admitted: single.statements.per_10k_admitted,
          },
        };
      }
    }
    return { results, details: {} };
  } finally {
    await db?.close();
    if (B) await ctx.release(B);
    await ctx.release(A);
    if (!ctx.opts.keep) await target.drop();
  }
}

export default {
  id: 'L2',
  title: 'quota under concurrency',
  covers: ['L2', 'L3'],
  targets: {
    quota_admitted_single: { scenario: 'L2', op: '==', value: 10_000 },
    quota_admitted_two: { scenario: 'L2', op: '==', value: 10_000 },
    quota_statements_per_10k: { scenario: 'L3', op: '<=', value: 50 },
    // The quota's own part of it (leases and hand-backs), as PostgreSQL counts rows written.
    quota_lease_statements_per_10k: { scenario: 'L3', op: 'info', value: null },
  },
  // Instances of its own on a new database, after the shared instance has been stopped.
  standalone: true,
  skip: (ctx, id) =>
    id === 'L3' && ctx.kind !== 'postgresql'
      ? 'PostgreSQL only: two instances share a database there, SQLite has one instance per file'
      : null,
  run,
};
