// Checking counts: what the server acknowledged per key against what the database gained, and
// the interrupted load that B5 and B6 share.
import { blast, rotatingRequests, TrackedLoad } from './load.mjs';
import { waitForFlush } from './measure.mjs';
import { basicAuth, round, sleep } from './util.mjs';

/** Compares what the server acknowledged per key with what the database gained. */
export function compare(load, ids, before, after) {
  let lost = 0;
  let doubled = 0;
  let lostVolume = 0;
  let doubledVolume = 0;
  let bucketMismatch = 0;
  ids.forEach((id, i) => {
    const b = before.get(id);
    const a = after.get(id);
    const count = a.count - b.count;
    const volume = a.volume - b.volume;
    lost += Math.max(0, load.ok[i] - count);
    doubled += Math.max(0, count - load.ok[i]);
    lostVolume += Math.max(0, load.volume[i] - volume);
    doubledVolume += Math.max(0, volume - load.volume[i]);
    if (a.bucketCount - b.bucketCount !== count || a.bucketVolume - b.bucketVolume !== volume)
      bucketMismatch++;
  });
  return { lost, doubled, lostVolume, doubledVolume, bucketMismatch };
}

/** Load over the 1,000 keys, `signal` half-way, restart, compare. */
export async function interrupted(ctx, signal) {
  const { S, db, P } = ctx;
  // Warm: after a restart the process is cold and none of the keys is cached.
  await blast({
    port: S.port,
    connections: 50,
    duration: 1,
    requests: rotatingRequests('/__bench/metered', ctx.loadKeys.map(basicAuth)),
  });
  await waitForFlush(S);
  const before = await db.accountUsage(ctx.load.accountId);
  const load = new TrackedLoad(ctx.loadKeys);
  let instance;
  const running = blast({
    port: S.port,
    connections: 100,
    duration: P.b5S,
    requests: load.requests('/__bench/metered'),
    onStart: (i) => (instance = i),
  });
  await sleep((P.b5S * 1000) / 2);
  const signalAt = load.elapsed();
  const stopped = await S.stop(signal);
  await sleep(200);
  instance.stop();
  const r = await running;
  const lastBin = load.timeline.length - 1;
  const acknowledgedUntil = Math.max(signalAt, (lastBin + 1) * load.binMs);
  const restartT0 = performance.now();
  await S.start();
  const restartMs = performance.now() - restartT0;
  const after = await db.accountUsage(ctx.load.accountId);
  const c = compare(load, ctx.loadIds, before, after);
  const rate = load.totalOk / (signalAt / 1000);
  return {
    lost: c.lost,
    lost_ms: round(load.lossAsTime(c.lost, acknowledgedUntil), 0),
    counted_not_acknowledged: c.doubled,
    lost_volume: c.lostVolume,
    keys_whose_buckets_differ_from_totals: c.bucketMismatch,
    acknowledged: load.totalOk,
    rps_before_signal: round(rate, 0),
    exit: {
      code: stopped?.code ?? null,
      signal: stopped?.signal ?? null,
      ms: round(stopped?.ms ?? NaN, 0),
    },
    restart_ms: round(restartMs, 0),
    client_errors: r.errors + r.timeouts,
  };
}
