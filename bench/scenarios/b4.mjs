// B4: counts under load, nothing lost or counted twice. See docs/benchmarks.md.
import { compare } from '../lib/counts.mjs';
import { blast, TrackedLoad } from '../lib/load.mjs';
import { waitForFlush } from '../lib/measure.mjs';
import { listKeys } from '../lib/seed.mjs';
import { round } from '../lib/util.mjs';

async function run(ctx) {
  const { S, db, P } = ctx;
  await waitForFlush(S);
  const before = await db.accountUsage(ctx.load.accountId);
  const load = new TrackedLoad(ctx.loadKeys);
  const r = await blast({
    port: S.port,
    connections: 100,
    amount: P.b4Requests,
    requests: load.requests('/__bench/metered'),
  });
  // Reads on the instance include what is not yet written (read-your-writes).
  const api = new Map((await listKeys(S, ctx.load.master)).map((k) => [k.id, k]));
  let apiMismatch = 0;
  ctx.loadIds.forEach((id, i) => {
    const b = before.get(id);
    const k = api.get(id);
    if (k.usageCount - b.count !== load.ok[i] || k.volume - b.volume !== load.volume[i])
      apiMismatch++;
  });
  await waitForFlush(S);
  const after = await db.accountUsage(ctx.load.accountId);
  const c = compare(load, ctx.loadIds, before, after);
  return {
    fields: { lost: c.lost, double_counted: c.doubled },
    details: {
      requests: P.b4Requests,
      keys: ctx.loadKeys.length,
      connections: 100,
      acknowledged: load.totalOk,
      acknowledged_volume: load.totalVolume,
      not_2xx: load.other,
      errors: r.errors + r.timeouts,
      rps: round(r.rps, 0),
      p99_ms: r.p99_ms,
      lost_volume: c.lostVolume,
      double_counted_volume: c.doubledVolume,
      keys_whose_buckets_differ_from_totals: c.bucketMismatch,
      keys_whose_api_totals_differ_before_flush: apiMismatch,
    },
  };
}

export default {
  id: 'B4',
  title: 'counts under load',
  targets: {
    lost: { op: '==', value: 0 },
    double_counted: { op: '==', value: 0 },
  },
  run,
};
