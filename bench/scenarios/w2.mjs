// W2: B1's measurement on an account with 10 webhook endpoints subscribed to every event type,
// while changes keep making deliveries. See docs/benchmarks.md.
import { interleave } from '../lib/measure.mjs';
import { createKey, register } from '../lib/seed.mjs';
import { basicAuth, round } from '../lib/util.mjs';
import { createEndpoints, EVENT_TYPES, trickle } from '../lib/webhooks.mjs';
import { B1_ROUTES, b1Comparison, seriesRun } from './throughput.mjs';

const ENDPOINTS = 10;

/**
 * One B1 series (unmetered | metered, one hot key, P.pairs after a warm-up of each, B1's own
 * run function and comparison) on the webhook instance, for a new account whose 10 endpoints
 * (every event type) point at `receiver`. During every run a key is created in that account
 * P.webhooks.perSecond times a second (key.created: 10 deliveries each), so the worker is
 * delivering while the request path is measured.
 */
async function series(ctx, receiver, label) {
  const { P } = ctx;
  const W = ctx.webhooks.server;
  const acct = await register(W, `w2-${label}`);
  const hot = [basicAuth(await createKey(W, acct.master, 'hot'))];
  await createEndpoints(W, acct.master, receiver, ENDPOINTS, EVENT_TYPES);
  const variants = [
    { id: 'unmetered', server: W, path: B1_ROUTES.unmetered, pool: hot },
    { id: 'metered', server: W, path: B1_ROUTES.metered, pool: hot },
  ];
  const spent = { preparing_s: 0, measuring_s: 0, load_s: 0 };
  const inner = seriesRun(P, spent);
  const during = { keys_created: 0, create_failed: 0, deliveries: 0, bad_signatures: 0, s: 0 };
  const bad0 = receiver.counts.bad_signatures;
  const runs = await interleave(variants, P.pairs, async (v, i) => {
    const t = trickle(W, acct.master, P.webhooks.perSecond, `w2-${label}-${v.id}-${i}`);
    const d0 = receiver.counts.deliveries;
    const b0 = receiver.counts.bad_signatures;
    const t0 = performance.now();
    let r;
    try {
      r = await inner(v, i);
    } finally {
      const made = await t.stop();
      if (i >= 0) {
        during.keys_created += made.created;
        during.create_failed += made.failed;
        during.deliveries += receiver.counts.deliveries - d0;
        during.bad_signatures += receiver.counts.bad_signatures - b0;
        during.s += (performance.now() - t0) / 1000;
      }
    }
    return r;
  });
  const cmp = b1Comparison(runs, variants, 'unmetered', 'metered');
  return {
    ...cmp,
    receiver_answers_after_ms: receiver.delayMs,
    endpoints: ENDPOINTS,
    events: EVENT_TYPES,
    // Over the measured runs (warm-ups left out), from the trickle's start to its stop.
    during_runs: {
      ...during,
      s: round(during.s, 1),
      deliveries_per_s: round(during.deliveries / Math.max(0.001, during.s), 1),
    },
    bad_signatures_whole_series: receiver.counts.bad_signatures - bad0,
    series_time: Object.fromEntries(Object.entries(spent).map(([k, x]) => [k, round(x, 1)])),
  };
}

async function run(ctx) {
  const fast = await series(ctx, ctx.webhooks.fast, 'fast');
  // After the fast one: the slow receiver's backlog (2 s a delivery, 8 in flight) outlasts its
  // series and would hold the worker's slots during a fast run after it.
  const slow = await series(ctx, ctx.webhooks.slow, 'slow');
  return {
    fields: {
      metered_over_unmetered_with_webhooks: fast.metered_over_unmetered,
      metered_over_unmetered_with_webhooks_worst: fast.metered_over_unmetered_worst,
    },
    details: {
      connections: ctx.P.connections,
      run_s: ctx.P.runS,
      pairs: ctx.P.pairs,
      changes_per_s: ctx.P.webhooks.perSecond,
      fast,
      slow_receiver: slow,
      receiver: 'node:http in the benchmark process (CPU 0, with autocannon), 127.0.0.1',
    },
  };
}

export default {
  id: 'W2',
  title: 'metered over unmetered with webhooks',
  targets: { metered_over_unmetered_with_webhooks: { op: '>=', value: 0.9 } },
  needs: () => ['webhooks'],
  // As B1: the request path measured does not touch the database.
  skip: (ctx) =>
    ctx.P.mode === 'quick' && ctx.kind === 'postgresql'
      ? 'SQLite only in --quick (the path measured does not touch the database)'
      : null,
  run,
};
