// H1: small requests keep their latency while large usage answers are built (issue 15.7).
// /health's worst and p99 latency under bursts of 64 parallel 92-day minute CSVs, on the shared instance (large
// answers bounded by LARGE_USAGE_ANSWERS_IN_FLIGHT, default 4) and on an instance of the same
// build and database with the bound lifted, side by side, A B A B.
import { blast } from '../lib/load.mjs';
import { interleave } from '../lib/measure.mjs';
import { basicAuth, median, round } from '../lib/util.mjs';

const LARGE_CLIENTS = 64;
const DAY_MS = 86_400_000;

function largePath(keyId) {
  const to = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  const from = new Date(to.getTime() - 92 * DAY_MS);
  const query = new URLSearchParams({
    from: from.toISOString(),
    to: to.toISOString(),
    interval: 'minute',
    format: 'csv',
  });
  return `/1.0/keys/${keyId}?${query}`;
}

/**
 * /health from one client for `seconds`, while (unless idle) bursts of LARGE_CLIENTS large
 * answers are asked for at once, one request per client, burst after burst: what 64 parallel
 * 92-day CSV queries did in the report that opened the issue.
 */
async function healthUnder(server, { large, seconds, path, auth }) {
  const codes = {};
  let bursts = 0;
  let stop = false;
  const load = (async () => {
    while (large && !stop) {
      const r = await blast({
        port: server.port,
        path,
        headers: { authorization: auth },
        connections: LARGE_CLIENTS,
        amount: LARGE_CLIENTS,
      });
      for (const [code, n] of Object.entries(r.codes)) codes[code] = (codes[code] ?? 0) + n;
      bursts++;
    }
  })();
  // The probe runs in a worker thread, apart from the bursts' 4.5 MB answers arriving here.
  const health = await blast({
    port: server.port,
    path: '/health',
    connections: 1,
    duration: seconds,
    workers: 1,
  });
  stop = true;
  await load;
  // No answer at all in the run: the worst wait was at least the whole run.
  const none = health.total === 0;
  return {
    health_p99_ms: none ? seconds * 1000 : health.p99_ms,
    health_max_ms: none ? seconds * 1000 : health.max_ms,
    health_answers: health.total,
    large_codes: codes,
    bursts,
  };
}

async function run(ctx) {
  const { S, P } = ctx;
  const { pairs, seconds } = P.h1;
  const U = ctx.server({
    name: `${ctx.kind}-unbounded`,
    target: ctx.target,
    env: { LARGE_USAGE_ANSWERS_IN_FLIGHT: '1000' },
    secret: S.secret,
  });
  await U.start();
  try {
    const options = {
      seconds,
      path: largePath(ctx.load.masterId),
      auth: basicAuth(ctx.load.master),
    };
    const idle = await healthUnder(S, { ...options, large: false });
    const runs = await interleave([S, U], pairs, (server, i) =>
      healthUnder(server, { ...options, large: true, seconds: i < 0 ? 1 : seconds }),
    );
    const bounded = runs.get(S);
    const unbounded = runs.get(U);
    const med = (series, field) => round(median(series.map((r) => r[field])), 1);
    const codes = (series) =>
      series.reduce((all, r) => {
        for (const [code, n] of Object.entries(r.large_codes)) all[code] = (all[code] ?? 0) + n;
        return all;
      }, {});
    return {
      fields: {
        health_max_ms_under_large_answers: med(bounded, 'health_max_ms'),
        health_max_ms_unbounded: med(unbounded, 'health_max_ms'),
        health_p99_ms_under_large_answers: med(bounded, 'health_p99_ms'),
        health_p99_ms_unbounded: med(unbounded, 'health_p99_ms'),
      },
      details: {
        large_clients: LARGE_CLIENTS,
        seconds_per_run: seconds,
        pairs,
        health_p99_ms_idle: idle.health_p99_ms,
        health_max_ms_idle: idle.health_max_ms,
        bounded_health_max_ms: bounded.map((r) => r.health_max_ms),
        unbounded_health_max_ms: unbounded.map((r) => r.health_max_ms),
        bounded_health_p99_ms: bounded.map((r) => r.health_p99_ms),
        unbounded_health_p99_ms: unbounded.map((r) => r.health_p99_ms),
        bounded_large_codes: codes(bounded),
        unbounded_large_codes: codes(unbounded),
        bounded_health_answers: bounded.map((r) => r.health_answers),
        unbounded_health_answers: unbounded.map((r) => r.health_answers),
        bounded_bursts: bounded.map((r) => r.bursts),
        unbounded_bursts: unbounded.map((r) => r.bursts),
      },
    };
  } finally {
    await ctx.release(U);
  }
}

export default {
  id: 'H1',
  title: '/health while large usage answers are built',
  targets: {
    health_max_ms_under_large_answers: { op: 'report', value: null },
    health_max_ms_unbounded: { op: 'report', value: null },
    health_p99_ms_under_large_answers: { op: 'report', value: null },
    health_p99_ms_unbounded: { op: 'report', value: null },
  },
  skip: (ctx) =>
    ctx.P.mode === 'quick' && ctx.kind === 'postgresql'
      ? 'SQLite only in --quick (the event loop, not the database, is what is measured)'
      : null,
  run,
};
