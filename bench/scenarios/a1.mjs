// A1: B1's trivial route while an audit-heavy workload runs. See docs/benchmarks.md.
import { rotatingRequests } from '../lib/load.mjs';
import { interleave, measure, pairRatios, summary } from '../lib/measure.mjs';
import { createKey } from '../lib/seed.mjs';
import { basicAuth, request, round, sleep } from '../lib/util.mjs';

/**
 * Renames one key through the API once a second for as long as `running()` says, on the same
 * instance: each rename is a key update, a cache eviction and an audit entry written before
 * its answer. Resolves with the renames done and the ones that failed.
 */
async function renameEverySecond(server, master, running) {
  const key = await createKey(server, master, `a1-renamed-${Date.now()}`);
  const headers = { authorization: basicAuth(master) };
  let done = 0;
  let failed = 0;
  while (running()) {
    const res = await request(server.port, 'PUT', `/1.0/keys/${key}`, {
      headers,
      body: { name: `a1-renamed-${Date.now()}-${done}` },
    });
    if (res.status === 200) done++;
    else failed++;
    await sleep(1000);
  }
  return { done, failed };
}

async function run(ctx) {
  const { S, P } = ctx;
  const hot = [basicAuth(ctx.hot)];
  let running = true;
  const renames = renameEverySecond(S, ctx.load.master, () => running);
  const variants = [
    { id: 'unmetered', path: '/__bench/noop' },
    { id: 'metered', path: '/__bench/metered' },
  ];
  let runs;
  try {
    runs = await interleave(variants, P.pairs, (v, i) =>
      measure(S, {
        connections: P.connections,
        duration: i < 0 ? P.warmS : P.runS,
        requests: rotatingRequests(v.path, hot),
      }),
    );
  } finally {
    running = false;
  }
  const rename = await renames;
  const [u, m] = variants.map((v) => runs.get(v));
  const ratio = pairRatios(m, u);
  return {
    fields: { metered_over_unmetered_with_audit: round(ratio.median, 3) },
    details: {
      worst_pair: round(ratio.worst, 3),
      pairs: ratio.pairs,
      unmetered: summary(u),
      metered: summary(m),
      renames: rename.done,
      renames_failed: rename.failed,
    },
  };
}

export default {
  id: 'A1',
  title: 'metered route with an audited rename every second',
  targets: { metered_over_unmetered_with_audit: { op: '>=', value: 0.9 } },
  run,
};
