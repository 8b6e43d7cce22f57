// Measuring runs: interleaved variants, per-pair ratios, a run with the server's own account
// of it, waiting for the flush, and the summary of a series.
import { blast } from './load.mjs';
import { SETTLE_MS } from './options.mjs';
import { median, round, sleep } from './util.mjs';

/** Runs variants A B A B ... `pairs` times, after one warm-up run of each (run(v, -1)). */
export async function interleave(variants, pairs, run, { warm = true } = {}) {
  if (warm) for (const v of variants) await run(v, -1);
  const runs = new Map(variants.map((v) => [v, []]));
  for (let i = 0; i < pairs; i++) {
    for (const v of variants) runs.get(v).push(await run(v, i));
  }
  return runs;
}

/** Ratio a/b per pair: median and worst (lowest). */
export function pairRatios(a, b, field = 'rps') {
  const ratios = a.map((r, i) => r[field] / b[i][field]);
  return {
    median: median(ratios),
    worst: Math.min(...ratios),
    pairs: ratios.map((r) => round(r, 3)),
  };
}

/**
 * A load run with the server's own account of it: CPU time per request (user + system, which
 * a busy shared machine disturbs less than throughput) and database statements sent.
 */
export async function measure(server, blastOptions) {
  await server.gc();
  const s0 = await server.stats();
  const r = await blast({ port: server.port, ...blastOptions });
  const s1 = await server.stats();
  r.cpu_us_per_req = (s1.cpuUs - s0.cpuUs) / Math.max(1, r.total);
  r.db_queries = s1.dbQueries - s0.dbQueries;
  return r;
}

/**
 * Waits until the server holds no unwritten usage (/__bench/stats reports it), or, where that
 * cannot be seen, for one flush interval and a margin.
 */
export async function waitForFlush(server) {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const { usagePending } = await server.stats();
    if (usagePending === false) return;
    if (usagePending === null) return sleep(SETTLE_MS);
    if (performance.now() > deadline)
      throw new Error(`${server.name} still holds unwritten usage after 10 s`);
    await sleep(25);
  }
}

/** Medians of a series of measure() runs. */
export function summary(runs) {
  return {
    rps: round(median(runs.map((r) => r.rps)), 0),
    cpu_us_per_req: round(median(runs.map((r) => r.cpu_us_per_req)), 1),
    p50_ms: round(median(runs.map((r) => r.p50_ms)), 2),
    p99_ms: round(median(runs.map((r) => r.p99_ms)), 2),
    runs_rps: runs.map((r) => round(r.rps, 0)),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    errors: runs.reduce((n, r) => n + r.errors + r.timeouts, 0),
  };
}
