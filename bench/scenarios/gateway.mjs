// G1, G2 and G3: what keymeter's gateway costs in front of a trivial upstream, against the same
// upstream through a plain (unmetered) proxy and direct. See docs/benchmarks.md.
import { pacedLoad, placement, procStats } from '../lib/gateway.mjs';
import { blast, rotatingRequests } from '../lib/load.mjs';
import { interleave, pairRatios } from '../lib/measure.mjs';
import { basicAuth, median, round } from '../lib/util.mjs';

/**
 * A closed-loop run (autocannon, P.connections, GET /tiny with the hot key) against one
 * variant, with the CPU time its proxy process and the upstream spent per request.
 */
async function closedRun(v, upstream, P, auth, seconds) {
  await v.gc();
  const p0 = v.pid ? procStats(v.pid) : null;
  const u0 = procStats(upstream.pid);
  const r = await blast({
    port: v.port,
    connections: P.connections,
    duration: seconds,
    requests: rotatingRequests('/tiny', auth),
  });
  const u1 = procStats(upstream.pid);
  r.cpu_us_per_req = p0 ? (procStats(v.pid).cpuUs - p0.cpuUs) / Math.max(1, r.total) : null;
  r.upstream_cpu_us_per_req = (u1.cpuUs - u0.cpuUs) / Math.max(1, r.total);
  return r;
}

function closedSummary(runs) {
  return {
    rps: round(median(runs.map((r) => r.rps)), 0),
    p50_ms: round(median(runs.map((r) => r.p50_ms)), 2),
    p99_ms: round(median(runs.map((r) => r.p99_ms)), 2),
    proxy_cpu_us_per_req: round(median(runs.map((r) => r.cpu_us_per_req)), 1),
    upstream_cpu_us_per_req: round(median(runs.map((r) => r.upstream_cpu_us_per_req)), 1),
    runs_rps: runs.map((r) => round(r.rps, 0)),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    errors: runs.reduce((n, r) => n + r.errors + r.timeouts, 0),
  };
}

function pacedSummary(runs) {
  return {
    p50_ms: round(median(runs.map((r) => r.p50_ms)), 2),
    p99_ms: round(median(runs.map((r) => r.p99_ms)), 2),
    max_ms: round(median(runs.map((r) => r.max_ms)), 2),
    from_due_p99_ms: round(median(runs.map((r) => r.from_due.p99_ms)), 2),
    runs_p99_ms: runs.map((r) => round(r.p99_ms, 2)),
    client_behind_max_ms: round(Math.max(...runs.map((r) => r.client_behind_max_ms)), 1),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
  };
}

/** Median over the pairs of a.field − b.field. */
function pairDiffs(a, b, field) {
  const d = a.map((r, i) => r[field] - b[i][field]);
  return { median: median(d), worst: Math.max(...d), pairs: d.map((x) => round(x, 2)) };
}

async function run(ctx) {
  const { P } = ctx;
  const g = ctx.gateway;
  if (!g?.server) throw g?.error ?? new Error('no gateway instance');
  const { upstream } = g;
  const auth = [basicAuth(ctx.hot)];
  const gc = (proc) => () => proc.gc();
  const variants = [
    { id: 'direct', port: upstream.port, pid: null, gc: gc(upstream) },
    { id: 'plain_node_http', port: g.node.port, pid: g.node.pid, gc: gc(g.node) },
    { id: 'plain_undici', port: g.undici.port, pid: g.undici.pid, gc: gc(g.undici) },
    { id: 'plain_node_lean', port: g.lean.port, pid: g.lean.pid, gc: gc(g.lean) },
    {
      id: 'gateway',
      port: g.server.gatewayPort,
      pid: g.server.child.pid,
      gc: () => g.server.gc(),
    },
  ];
  const runs = await interleave(variants, P.pairs, (v, i) =>
    closedRun(v, upstream, P, auth, i < 0 ? P.warmS : P.runS),
  );
  const get = (id) => runs.get(variants.find((v) => v.id === id));
  const [direct, node, undici, gateway] = [
    'direct',
    'plain_node_http',
    'plain_undici',
    'gateway',
  ].map(get);
  // The gateway forwards as the lean plain proxy does (a request without a body is ended, not
  // piped; answers go through pipe()), so that is the proxy it is held to.
  const lean = get('plain_node_lean');
  const overPlain = pairRatios(gateway, lean);
  const overDirect = pairRatios(gateway, direct);
  const undiciOverNode = pairRatios(undici, node);
  const leanOverNode = pairRatios(lean, node);
  const byCpu = pairRatios(lean, gateway, 'cpu_us_per_req');
  const summaries = Object.fromEntries(variants.map((v) => [v.id, closedSummary(runs.get(v))]));
  const common = {
    connections: P.connections,
    run_s: P.runS,
    pairs: P.pairs,
    order: variants.map((v) => v.id),
    placement: placement(ctx).note,
  };
  const results = {};
  if (ctx.want('G1')) {
    results.G1 = {
      fields: {
        gateway_over_plain_proxy: round(overPlain.median, 3),
        gateway_over_plain_proxy_worst: round(overPlain.worst, 3),
        proxy_candidates: {
          node_http_rps: summaries.plain_node_http.rps,
          undici_rps: summaries.plain_undici.rps,
          undici_over_node_http: round(undiciOverNode.median, 3),
          // node:http without a pipeline for a request with no body, and .pipe() for the answer
          node_http_lean_rps: summaries.plain_node_lean.rps,
        },
      },
      details: {
        ...common,
        pair_ratios: overPlain.pairs,
        // the same comparison by the proxy process's CPU time per request (plain / gateway)
        gateway_over_plain_proxy_cpu: round(byCpu.median, 3),
        undici_over_node_http_pairs: undiciOverNode.pairs,
        node_lean_over_node_http: round(leanOverNode.median, 3),
        node_lean_over_node_http_pairs: leanOverNode.pairs,
        variants: summaries,
      },
    };
  }
  if (ctx.want('G2')) {
    results.G2 = {
      fields: {
        gateway_over_direct: round(overDirect.median, 3),
        gateway_over_direct_worst: round(overDirect.worst, 3),
      },
      details: {
        ...common,
        pair_ratios: overDirect.pairs,
        direct: summaries.direct,
        gateway: summaries.gateway,
      },
    };
  }
  if (ctx.want('G3')) {
    // Each pair's rate is half the gateway's throughput in a closed-loop run just before it:
    // the shared machine's speed drifts within minutes, and a rate taken from G1's series can
    // exceed what the gateway serves by the time G3 runs, when an open loop queues without end.
    const paced = variants.filter((v) => ['direct', 'plain_node_lean', 'gateway'].includes(v.id));
    const gatewayV = variants.find((v) => v.id === 'gateway');
    const pacedRuns = new Map(paced.map((v) => [v, []]));
    const rates = [];
    for (let i = -1; i < P.gateway.pacedPairs; i++) {
      const max = await closedRun(gatewayV, upstream, P, auth, i < 0 ? P.warmS : P.runS);
      const rate = Math.max(100, Math.round(max.rps / 2));
      if (i >= 0) rates.push(rate);
      for (const v of paced) {
        await v.gc();
        const r = await pacedLoad({
          port: v.port,
          path: '/tiny',
          headers: { authorization: auth[0] },
          rate,
          seconds: i < 0 ? 1 : P.gateway.pacedS,
        });
        if (i >= 0) pacedRuns.get(v).push(r);
      }
    }
    const pget = (id) => pacedRuns.get(paced.find((v) => v.id === id));
    const vsDirect = pairDiffs(pget('gateway'), pget('direct'), 'p99_ms');
    const vsPlain = pairDiffs(pget('gateway'), pget('plain_node_lean'), 'p99_ms');
    const p50VsDirect = pairDiffs(pget('gateway'), pget('direct'), 'p50_ms');
    results.G3 = {
      fields: {
        gateway_p99_added_ms: round(vsDirect.median, 2),
        gateway_p99_added_ms_worst: round(vsDirect.worst, 2),
      },
      details: {
        compared_with: 'direct (the upstream without any proxy), same rate, same client',
        rate_per_s: median(rates),
        rates_per_pair: rates,
        order:
          'gateway closed-loop (its max) | direct | plain node:http | gateway, paced at half that max',
        seconds: P.gateway.pacedS,
        pairs: P.gateway.pacedPairs,
        client:
          'open loop: each request sent when due (keep-alive agent, up to 256 sockets), whatever the answers before it; latency from sending to the last byte',
        pair_diffs_ms: vsDirect.pairs,
        gateway_p99_added_over_plain_proxy_ms: round(vsPlain.median, 2),
        over_plain_proxy_pair_diffs_ms: vsPlain.pairs,
        gateway_p50_added_ms: round(p50VsDirect.median, 2),
        variants: Object.fromEntries(paced.map((v) => [v.id, pacedSummary(pacedRuns.get(v))])),
      },
    };
  }
  return { results, details: {} };
}

const candidates = (v) =>
  `node:http ${v.node_http_rps} / undici ${v.undici_rps} (${v.undici_over_node_http}) / lean node:http ${v.node_http_lean_rps} req/s`;

export default {
  id: 'gateway',
  title: 'gateway against a plain proxy and direct',
  covers: ['G1', 'G2', 'G3'],
  targets: {
    gateway_over_plain_proxy: { scenario: 'G1', op: '>=', value: 0.9 },
    proxy_candidates: { scenario: 'G1', op: 'info', value: null, cell: candidates },
    gateway_over_direct: { scenario: 'G2', op: 'report', value: null },
    gateway_p99_added_ms: { scenario: 'G3', op: '<=', value: 2 },
  },
  needs: () => ['gateway'],
  // The path measured (a cached key, the meter in memory) does not touch the database.
  skip: (ctx) =>
    ctx.P.mode === 'quick' && ctx.kind === 'postgresql'
      ? 'SQLite only in --quick (the path measured does not touch the database)'
      : null,
  run,
};
