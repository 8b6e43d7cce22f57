// B1, B2 and B7: one interleaved series of throughput runs. See docs/benchmarks.md.
import { blast, rotatingRequests } from '../lib/load.mjs';
import { interleave, measure, pairRatios, summary, waitForFlush } from '../lib/measure.mjs';
import { basicAuth, median, round } from '../lib/util.mjs';

/**
 * B1, B2 and B7 share one interleaved series of runs on the main instance (S), the strict
 * instance (T, USAGE_FLUSH_INTERVAL_MS=0, same database) and, on SQLite, the Node 24 instance:
 *
 *   S spread | T spread | S unmetered | S metered | T hot | S invalid | (N unmetered | N metered)
 *
 * repeated `pairs` times after one warm-up of each. The hot-key metered run of S is B1's
 * metered, B2's buffered-hot and B7's metered variant. Each timer flush is kept out of the
 * runs it could distort: "T spread" starts once S has written its 1,000-key flush, the hot
 * key's one-row flush is written during "T hot" (and waited for), so the statements counted
 * during "S invalid" are the invalid keys' own.
 */
/** B1's two routes: the same request, unguarded (`@Public()`) and metered (`@AnyKey()`). */
export const B1_ROUTES = { unmetered: '/__bench/noop', metered: '/__bench/metered' };

/**
 * One run of a series: the variant's `before` (not before the warm-up), then measure() for
 * P.runS (P.warmS for the warm-up, i < 0) at P.connections over its pool on its path; the
 * time spent preparing, measuring and under load is added to `spent`. B1's series uses it, and
 * the scenarios that repeat B1's measurement elsewhere (W2).
 */
export function seriesRun(P, spent = { preparing_s: 0, measuring_s: 0, load_s: 0 }) {
  return async (v, i) => {
    const t0 = performance.now();
    if (v.before && i >= 0) await v.before();
    const t1 = performance.now();
    const r = await measure(v.server, {
      connections: P.connections,
      duration: i < 0 ? P.warmS : P.runS,
      requests: rotatingRequests(v.path, v.pool),
    });
    spent.preparing_s += (t1 - t0) / 1000;
    spent.measuring_s += (performance.now() - t1) / 1000;
    spent.load_s += r.duration_s;
    return r;
  };
}

/** B1's figures from a series (`runs` of interleave()): metered over unmetered, by throughput and CPU. */
export function b1Comparison(runs, variants, unmeteredId, meteredId) {
  const get = (id) => runs.get(variants.find((v) => v.id === id));
  const u = get(unmeteredId);
  const m = get(meteredId);
  const ratio = pairRatios(m, u);
  const cpu = pairRatios(u, m, 'cpu_us_per_req');
  return {
    node: variants.find((v) => v.id === meteredId).server.info.node,
    unmetered: summary(u),
    metered: summary(m),
    metered_over_unmetered: round(ratio.median, 3),
    metered_over_unmetered_worst: round(ratio.worst, 3),
    pair_ratios: ratio.pairs,
    // The same comparison by the server's CPU time per request (unmetered / metered).
    metered_over_unmetered_cpu: round(cpu.median, 3),
    metered_over_unmetered_cpu_worst: round(cpu.worst, 3),
  };
}

async function throughputSuite(ctx) {
  const { S, P } = ctx;
  const T = ctx.strict;
  const b1 = ctx.want('B1');
  const b2 = ctx.want('B2');
  const b7 = ctx.want('B7');
  const hot = [basicAuth(ctx.hot)];
  const spread = ctx.loadKeys.map(basicAuth);
  const invalid = ctx.keys.invalidKeys(1000).map(basicAuth);
  const variants = [];
  const add = (id, server, path, pool, before) => variants.push({ id, server, path, pool, before });
  // Puts the 1,000 keys in the instance's key cache without metering them (a non-master key on
  // a master route is looked up, then refused with 403), so that the spread runs measure the
  // steady state rather than the burst of lookups after the 5-second cache expiry.
  const touch = (server) => () =>
    blast({
      port: server.port,
      connections: 20,
      amount: spread.length,
      requests: rotatingRequests('/1.0/keys', spread),
    });
  if (b2) {
    add('buffered_spread', S, '/__bench/metered', spread, touch(S));
    // The 1,000-key flush of the buffered run must be over before the strict run starts.
    add('strict_spread', T, '/__bench/metered', spread, () =>
      Promise.all([waitForFlush(S), touch(T)()]),
    );
  }
  if (b1) add('unmetered', S, B1_ROUTES.unmetered, hot); // the same request; the route is @Public()
  add('metered', S, B1_ROUTES.metered, hot);
  if (b2) add('strict_hot', T, '/__bench/metered', hot);
  if (b7) add('invalid', S, '/__bench/metered', invalid, () => waitForFlush(S));
  if (b1 && ctx.node24) {
    const n24 = [basicAuth(ctx.node24.key)];
    add('node24_unmetered', ctx.node24.server, B1_ROUTES.unmetered, n24);
    add('node24_metered', ctx.node24.server, B1_ROUTES.metered, n24);
  }
  const spent = { preparing_s: 0, measuring_s: 0, load_s: 0 };
  const runs = await interleave(variants, P.pairs, seriesRun(P, spent));
  for (const k of Object.keys(spent)) spent[k] = round(spent[k], 1);
  const get = (id) => runs.get(variants.find((v) => v.id === id));
  const runtime = (unmeteredId, meteredId) => b1Comparison(runs, variants, unmeteredId, meteredId);
  const results = {};
  if (b1) {
    const runtimes = {
      [`node${process.versions.node.split('.')[0]}`]: runtime('unmetered', 'metered'),
    };
    if (ctx.node24) runtimes.node24 = runtime('node24_unmetered', 'node24_metered');
    const main = Object.values(runtimes)[0];
    results.B1 = {
      fields: {
        metered_over_unmetered: main.metered_over_unmetered,
        metered_over_unmetered_worst: main.metered_over_unmetered_worst,
      },
      details: {
        connections: P.connections,
        run_s: P.runS,
        pairs: P.pairs,
        order: variants.map((v) => v.id),
        runtimes,
      },
    };
  }
  if (b2) {
    const hotR = pairRatios(get('metered'), get('strict_hot'));
    const spreadR = pairRatios(get('buffered_spread'), get('strict_spread'));
    // In strict mode every metered request is one commit before it is answered (UsageMeter
    // .record writes one use in one transaction), so its commits per second are its 2xx
    // answers per second.
    const commits = (runs) => round(median(runs.map((r) => r.ok / r.duration_s)), 0);
    const statements = (runs) =>
      round(
        runs.reduce((n, r) => n + r.db_queries, 0) /
          Math.max(
            1,
            runs.reduce((n, r) => n + r.ok, 0),
          ),
        3,
      );
    results.B2 = {
      fields: {
        buffered_over_strict_hot: round(hotR.median, 2),
        buffered_over_strict_hot_worst: round(hotR.worst, 2),
        buffered_over_strict_spread: round(spreadR.median, 2),
        buffered_over_strict_spread_worst: round(spreadR.worst, 2),
        strictCommitsPerSecond: commits(get('strict_hot')),
      },
      details: {
        connections: P.connections,
        spread_keys: ctx.loadKeys.length,
        buffered_hot: summary(get('metered')),
        strict_hot: summary(get('strict_hot')),
        buffered_spread: summary(get('buffered_spread')),
        strict_spread: summary(get('strict_spread')),
        hot_pair_ratios: hotR.pairs,
        spread_pair_ratios: spreadR.pairs,
        strict_commits_per_second: {
          hot: commits(get('strict_hot')),
          spread: commits(get('strict_spread')),
        },
        // Statements per commit: two (the minute upsert and the totals update) show each
        // strict request committed on its own.
        strict_db_queries_per_request: {
          hot: statements(get('strict_hot')),
          spread: statements(get('strict_spread')),
        },
      },
    };
  }
  if (b7) {
    const inv = get('invalid');
    const m = get('metered');
    const ratio = pairRatios(inv, m);
    const cpu = pairRatios(m, inv, 'cpu_us_per_req');
    // Unknown keys: well-formed, right checksum, in no database (anyone can compute a CRC32).
    const unknown = async (pool) => {
      const r = await measure(S, {
        connections: P.connections,
        duration: P.unknownS,
        requests: rotatingRequests('/__bench/metered', pool),
      });
      return {
        requests: r.total,
        db_queries: r.db_queries,
        distinct_keys: Math.min(pool.length, r.total),
        rps: round(r.rps, 0),
        cpu_us_per_req: round(r.cpu_us_per_req, 1),
        duration_s: round(r.duration_s, 2),
        codes: r.codes,
      };
    };
    const repeated = await unknown(ctx.keys.unknownKeys(100).map(basicAuth));
    const fresh = await unknown(ctx.keys.unknownKeys(Math.ceil(P.unknownS * 6000)).map(basicAuth));
    const invalidQueries = inv.reduce((n, r) => n + r.db_queries, 0);
    results.B7 = {
      fields: {
        invalid_key_db_queries: invalidQueries,
        invalid_over_metered: round(ratio.median, 3),
        invalid_over_metered_worst: round(ratio.worst, 3),
        unknown_key_db_queries_per_request: round(
          fresh.db_queries / Math.max(1, fresh.requests),
          3,
        ),
      },
      details: {
        invalid: {
          ...summary(inv),
          requests: inv.reduce((n, r) => n + r.total, 0),
          db_queries: invalidQueries,
          kinds: 'wrong checksum (1/2), wrong length (1/4), wrong prefix (1/4); 1,000 distinct',
        },
        metered: summary(m),
        pair_ratios: ratio.pairs,
        invalid_over_metered_cpu: round(cpu.median, 3),
        unknown_repeated_100_keys: repeated,
        unknown_fresh_keys: fresh,
      },
    };
  }
  return { results, details: { throughput_series_time: spent } };
}

export default {
  id: 'throughput',
  title: 'one interleaved series',
  covers: ['B1', 'B2', 'B7'],
  targets: {
    metered_over_unmetered: { scenario: 'B1', op: '>=', value: 0.9 },
    // B2 is information, not a target: strict mode is as fast as its commits (see
    // docs/benchmarks.md), so the ratio says how fast the disk commits, not how good metering is.
    buffered_over_strict_hot: { scenario: 'B2', op: 'info', value: null },
    buffered_over_strict_spread: { scenario: 'B2', op: 'info', value: null },
    strictCommitsPerSecond: { scenario: 'B2', op: 'info', value: null },
    invalid_key_db_queries: { scenario: 'B7', op: '==', value: 0 },
    invalid_over_metered: { scenario: 'B7', op: '>=', value: 1.0 },
  },
  /** B2 compares with the strict instance; B1 also runs on Node 24 when given. */
  needs: (ctx) => [ctx.want('B2') && 'strict', ctx.want('B1') && 'node24'].filter(Boolean),
  // --quick keeps PostgreSQL to the scenarios whose figures depend on the database: B1 and B7
  // measure the in-memory path (cache hit, no database), the same code on both.
  skip: (ctx, id) =>
    ctx.P.mode === 'quick' && ctx.kind === 'postgresql' && (id === 'B1' || id === 'B7')
      ? 'SQLite only in --quick (the path measured does not touch the database)'
      : null,
  run: throughputSuite,
};
