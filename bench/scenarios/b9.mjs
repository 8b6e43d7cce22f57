// B9: memory under a large number of keys, on its own instance. See docs/benchmarks.md.
import { DirectDb, PgTarget, SqliteTarget } from '../lib/db.mjs';
import { blast, TrackedLoad } from '../lib/load.mjs';
import { waitForFlush } from '../lib/measure.mjs';
import { register } from '../lib/seed.mjs';
import { round } from '../lib/util.mjs';

/** B9's size: P.b9[kind], overridden by --b9-requests/--b9-keys/--b9-budget/--b9-heap-mb. */
function scaleOf(ctx) {
  const { opts, P, kind } = ctx;
  return {
    requests: Number(opts['b9-requests'] ?? P.b9[kind].requests),
    keys: Number(opts['b9-keys'] ?? P.b9[kind].keys),
    budgetS: Number(opts['b9-budget'] ?? P.b9[kind].budgetS),
    heapMb: opts['b9-heap-mb'] ? Number(opts['b9-heap-mb']) : null,
  };
}

async function run(ctx) {
  const { kind, opts } = ctx;
  const scale = scaleOf(ctx);
  const target =
    kind === 'sqlite'
      ? new SqliteTarget(ctx.runRoot, 'b9')
      : await new PgTarget(opts['pg-url'], 'b9').create();
  const R = ctx.server({
    name: `${kind}-b9`,
    // --b9-heap-mb: the bound an operator would set, to see what RSS it holds the process to.
    nodeArgs: scale.heapMb ? [`--max-old-space-size=${scale.heapMb}`] : [],
    target,
  });
  let db;
  try {
    await R.start();
    const account = await register(R, 'b9');
    db = await DirectDb.open(target);
    const keys = ctx.keys.generatedKeys(scale.keys, 'b9');
    const t0 = performance.now();
    await db.insertKeys(account.accountId, keys);
    const seedMs = performance.now() - t0;
    await R.gc();
    const idle = await R.stats();
    const load = new TrackedLoad(
      keys.map((k) => k.key),
      { maxBody: 256 },
    );
    // In chunks, so that a slow machine stops at the time budget (and says how far it got).
    const requests = load.requests('/__bench/metered');
    const t1 = performance.now();
    let done = 0;
    let errors = 0;
    const latencies = [];
    while (done < scale.requests && performance.now() - t1 < scale.budgetS * 1000) {
      const chunk = Math.min(20_000, scale.requests - done);
      const r = await blast({ port: R.port, connections: 100, amount: chunk, requests });
      done += r.total;
      errors += r.errors + r.timeouts;
      latencies.push(r.p99_ms);
    }
    const loadS = (performance.now() - t1) / 1000;
    const end = await R.stats();
    await waitForFlush(R);
    const settled = await R.stats();
    await R.gc();
    const live = await R.stats();
    const [{ c }] = await db.all(
      'SELECT COALESCE(SUM(usage_count), 0) AS c FROM api_keys WHERE account_id = ? AND is_master = ?',
      [account.accountId, kind === 'sqlite' ? 0 : false],
    );
    const mb = (b) => round(b / 2 ** 20, 1);
    return {
      fields: { rss_mb: mb(end.rss) },
      details: {
        requests: done,
        requests_planned: scale.requests,
        stopped_by_time_budget: done < scale.requests ? `${scale.budgetS} s` : false,
        keys: scale.keys,
        connections: 100,
        rps: round(done / loadS, 0),
        p99_ms_worst_chunk: Math.max(...latencies),
        errors,
        rss_before_load_mb: mb(idle.rss),
        max_old_space_mb: scale.heapMb,
        rss_after_load_mb: mb(end.rss),
        rss_after_flush_mb: mb(settled.rss),
        heap_used_after_load_mb: mb(end.heapUsed),
        heap_total_after_load_mb: mb(end.heapTotal),
        external_after_load_mb: mb(end.external),
        rss_after_gc_mb: mb(live.rss),
        heap_live_before_load_mb: mb(idle.heapUsed),
        heap_live_after_gc_mb: mb(live.heapUsed),
        heap_live_per_key_bytes: Math.round((live.heapUsed - idle.heapUsed) / scale.keys),
        db_queries_per_request: round((end.dbQueries - idle.dbQueries) / Math.max(1, done), 3),
        acknowledged: load.totalOk,
        written: Number(c),
        key_seed_ms: Math.round(seedMs),
      },
    };
  } finally {
    await db?.close();
    await ctx.release(R);
    if (!opts.keep) await target.drop();
  }
}

export default {
  id: 'B9',
  title: 'memory with many keys',
  targets: {
    rss_mb: { op: 'report', value: null },
  },
  // Its own instance and database, after the shared instance has been stopped.
  standalone: true,
  skip: (ctx) =>
    ctx.P.b9[ctx.kind]
      ? null
      : `not run on ${ctx.kind} in ${ctx.P.mode} mode (memory does not depend on the database; see docs/benchmarks.md)`,
  run,
};
