// L1: B1's trivial route with a key held to a rate limit and a quota that never refuse, against
// the unguarded route. See docs/benchmarks.md.
import { rotatingRequests } from '../lib/load.mjs';
import { interleave, measure, pairRatios, summary } from '../lib/measure.mjs';
import { createKey } from '../lib/seed.mjs';
import { basicAuth, round } from '../lib/util.mjs';

/**
 * The highest rate limit the API takes (100,000 in a window) over the shortest window (1 s):
 * every request goes through the sliding window, and at the few thousand requests a second
 * one instance serves here it never refuses (the run checks that: no 429). The quota is the
 * API's highest request count, so it leases a slice of 1,000 (MAX_REQUEST_SLICE) every 1,000
 * requests and never runs out.
 */
export const L1_LIMITS = {
  rateLimit: { limit: 100_000, windowSeconds: 1 },
  quota: { requests: 1e12, period: 'month' },
};

async function run(ctx) {
  const { S, P } = ctx;
  const limited = await createKey(S, ctx.load.master, `l1-limited-${Date.now()}`, L1_LIMITS);
  const hot = [basicAuth(ctx.hot)];
  const variants = [
    { id: 'unmetered', path: '/__bench/noop', pool: hot },
    { id: 'metered', path: '/__bench/metered', pool: hot },
    { id: 'limited', path: '/__bench/metered', pool: [basicAuth(limited)] },
  ];
  const runs = await interleave(variants, P.pairs, (v, i) =>
    measure(S, {
      connections: P.connections,
      duration: i < 0 ? P.warmS : P.runS,
      requests: rotatingRequests(v.path, v.pool),
    }),
  );
  const [u, m, l] = variants.map((v) => runs.get(v));
  const ratio = pairRatios(l, u);
  const overMetered = pairRatios(l, m);
  const byCpu = pairRatios(u, l, 'cpu_us_per_req');
  const requests = l.reduce((n, r) => n + r.total, 0);
  const statements = l.reduce((n, r) => n + r.db_queries, 0);
  return {
    fields: {
      limited_over_unmetered: round(ratio.median, 3),
      limited_over_unmetered_worst: round(ratio.worst, 3),
    },
    details: {
      limits: L1_LIMITS,
      pairs: ratio.pairs,
      limited_over_unmetered_cpu: round(byCpu.median, 3),
      // The cost of the limits alone: the same key route, with and without them.
      limited_over_metered: round(overMetered.median, 3),
      limited_over_metered_pairs: overMetered.pairs,
      unmetered: summary(u),
      metered: summary(m),
      limited: summary(l),
      limited_refused: l.reduce((n, r) => n + (r.codes['429'] ?? 0), 0),
      limited_db_queries_per_1000_requests: round((1000 * statements) / Math.max(1, requests), 2),
    },
  };
}

export default {
  id: 'L1',
  title: 'rate limit and quota on the metered route',
  targets: { limited_over_unmetered: { op: '>=', value: 0.9 } },
  run,
};
