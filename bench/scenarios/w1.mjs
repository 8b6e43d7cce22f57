// W1: how long after a change its signed webhook arrives. See docs/benchmarks.md.
import { createKey, register } from '../lib/seed.mjs';
import { basicAuth, median, percentile, request, round, sleep } from '../lib/util.mjs';
import { createEndpoints } from '../lib/webhooks.mjs';

/** How long one change may wait for its delivery before it counts as missing. */
const WAIT_MS = 10_000;
const WARM = 3;

/**
 * On the webhook instance (its own database): a new account with one endpoint subscribed to
 * key.created on the receiver that answers at once. Then P.webhooks.changes times: a key
 * created with POST /1.0/keys, timed from just before the request is sent to the moment the
 * receiver has the whole body of the delivery naming that key; then a pause of 0.5-1.5 ×
 * gapMs, so the changes come one at a time, not as a burst. Every delivery's signature is
 * checked with the endpoint's secret.
 */
async function run(ctx) {
  const { P } = ctx;
  const { server: W, fast: receiver } = ctx.webhooks;
  const acct = await register(W, 'w1');
  await createEndpoints(W, acct.master, receiver, 1, ['key.created']);
  // A first key through the API, so the first timed change does not pay for cold code paths.
  await createKey(W, acct.master, 'w1-first');
  const created = awaitKeyEvents(receiver, 'key.created');
  const counts0 = { ...receiver.counts };
  const latencies = [];
  const apiMs = [];
  let missing = 0;
  let failed = 0;
  let unsigned = 0;
  const tag = Date.now().toString(36);
  try {
    for (let i = -WARM; i < P.webhooks.changes; i++) {
      const name = `w1-${tag}-${i}`;
      const arrived = created.next(name);
      const t0 = performance.now();
      const res = await request(W.port, 'POST', '/1.0/keys', {
        headers: { authorization: basicAuth(acct.master) },
        body: { name },
      });
      const t1 = performance.now();
      if (res.status !== 200) {
        created.forget(name);
        failed++;
        continue;
      }
      const d = await arrived;
      if (!d) {
        if (i >= 0) missing++;
        continue;
      }
      if (i >= 0) {
        latencies.push(d.at - t0);
        apiMs.push(t1 - t0);
        if (!d.valid) unsigned++;
      }
      await sleep(P.webhooks.gapMs * (0.5 + Math.random()));
    }
  } finally {
    created.off();
  }
  const thresholds = await thresholdLatencies(W, acct.master, receiver, P);
  // Let stragglers (a second attempt of any delivery) arrive before counting.
  await sleep(500);
  const c = receiver.counts;
  const deliveries = c.deliveries - counts0.deliveries;
  const bad = c.bad_signatures - counts0.bad_signatures;
  return {
    fields: {
      webhook_delivery_p50_ms: round(percentile(latencies, 50), 1),
      webhook_delivery_p99_ms: round(percentile(latencies, 99), 1),
      webhook_bad_signatures: bad,
      webhook_threshold_delivery_p50_ms: round(percentile(thresholds.latencies, 50), 1),
    },
    details: {
      changes: P.webhooks.changes,
      warm_up_changes: WARM,
      gap_ms: `${P.webhooks.gapMs * 0.5}-${P.webhooks.gapMs * 1.5} after each delivery`,
      delivered: latencies.length,
      missing_after_10s: missing,
      create_failed: failed,
      // Deliveries the receiver got during W1 (warm-up included): one per change expected.
      deliveries_received: deliveries,
      timed_deliveries_bad_signature: unsigned,
      delivery_ms: {
        min: round(Math.min(...latencies), 1),
        p50: round(percentile(latencies, 50), 1),
        p90: round(percentile(latencies, 90), 1),
        p99: round(percentile(latencies, 99), 1),
        max: round(Math.max(...latencies), 1),
      },
      // The change's own answer (POST /1.0/keys), which the delivery latency includes.
      api_answer_ms_p50: round(median(apiMs), 1),
      api_answer_ms_p99: round(percentile(apiMs, 99), 1),
      receiver: 'node:http in the benchmark process, 127.0.0.1, answers 200 at once',
      // usage.threshold is written by the usage flush that crosses it: its latency is the wait
      // for the next flush (USAGE_FLUSH_INTERVAL_MS, here 1 s) and then a delivery's.
      threshold: {
        crossings: thresholds.count,
        delivered: thresholds.latencies.length,
        missing_after_10s: thresholds.missing,
        delivery_ms: {
          min: round(Math.min(...thresholds.latencies), 1),
          p50: round(percentile(thresholds.latencies, 50), 1),
          p90: round(percentile(thresholds.latencies, 90), 1),
          max: round(Math.max(...thresholds.latencies), 1),
        },
      },
    },
  };
}

/**
 * Deliveries of `type` events by the name of their key: next(name) resolves to the first one
 * naming it, or to null after WAIT_MS (it counts as missing).
 */
function awaitKeyEvents(receiver, type) {
  const waiting = new Map(); // key name -> resolve(delivery)
  const off = receiver.listen((d) => {
    const name = d.event?.type === type ? d.event.data?.name : undefined;
    const resolve = waiting.get(name);
    if (resolve) {
      waiting.delete(name);
      resolve(d);
    }
  });
  const forget = (name) => waiting.delete(name);
  const next = (name) => {
    const arrived = new Promise((resolve) => waiting.set(name, resolve));
    return Promise.race([arrived, sleep(WAIT_MS, null, { ref: false })]).then((d) => {
      if (!d) forget(name);
      return d;
    });
  };
  return { next, forget, off };
}

/**
 * usage.threshold from the use that crosses it to the receiver: keys with a quota of 2 requests
 * a day, each used once (50 %), timed from just before that request is sent to the delivery
 * naming the key. One at a time, at a random moment of the flush interval.
 */
async function thresholdLatencies(W, master, receiver, P) {
  await createEndpoints(W, master, receiver, 1, ['usage.threshold']);
  const count = Math.max(10, Math.round(P.webhooks.changes / 10));
  const crossed = awaitKeyEvents(receiver, 'usage.threshold');
  const latencies = [];
  let missing = 0;
  const tag = Date.now().toString(36);
  try {
    for (let i = 0; i < count; i++) {
      const name = `w1-quota-${tag}-${i}`;
      const key = await createKey(W, master, name, { quota: { requests: 2, period: 'day' } });
      await sleep(Math.random() * 1000);
      const arrived = crossed.next(name);
      const t0 = performance.now();
      const res = await request(W.port, 'GET', '/1.0/me', { headers: { 'x-api-key': key } });
      if (res.status !== 200) throw new Error(`W1: a quota key's use answered ${res.status}`);
      const d = await arrived;
      if (d) latencies.push(d.at - t0);
      else missing++;
    }
  } finally {
    crossed.off();
  }
  return { count, latencies, missing };
}

export default {
  id: 'W1',
  title: 'webhook delivery latency',
  targets: {
    webhook_delivery_p50_ms: { op: '<=', value: 1000 },
    webhook_delivery_p99_ms: { op: 'report', value: null },
    webhook_bad_signatures: { op: '==', value: 0 },
    webhook_threshold_delivery_p50_ms: { op: 'report', value: null },
  },
  needs: () => ['webhooks'],
  run,
};
