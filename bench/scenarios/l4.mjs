// L4: a rate limit shared by two instances on one PostgreSQL database admits what it says over
// a paced load. See docs/benchmarks.md.
import { createRequire } from 'node:module';
import { PgTarget, postgresqlOnly } from '../lib/db.mjs';
import { createKey, register } from '../lib/seed.mjs';
import { basicAuth, median, request, round, sleep } from '../lib/util.mjs';

const LIMIT = { limit: 100, windowSeconds: 1 };
const RATE = 1000; // requests a second, over both instances
const SECONDS = 10;
const EXPECTED = (LIMIT.limit / LIMIT.windowSeconds) * SECONDS;
/** PeerInstances reads the count every 5 s (PEER_REFRESH_MS): both have seen the other after this. */
const PEERS_SETTLE_MS = 6000;

/**
 * RATE × SECONDS requests, request i sent at i / RATE s after the start to servers[i % n]: an
 * even pace (checked every millisecond; a late tick sends what is due), not autocannon's rate,
 * which sends each connection's share of a second in a burst at the second's start.
 */
async function pacedLoad(servers, key) {
  const headers = { authorization: basicAuth(key) };
  const total = RATE * SECONDS;
  const intervalMs = 1000 / RATE;
  const codes = {};
  const admittedAt = []; // ms since the start, when each admission's answer arrived
  const perInstance = servers.map(() => 0);
  let errors = 0;
  let maxLagMs = 0;
  const pending = [];
  const t0 = performance.now();
  let sent = 0;
  while (sent < total) {
    const now = performance.now() - t0;
    while (sent < total && sent * intervalMs <= now) {
      maxLagMs = Math.max(maxLagMs, now - sent * intervalMs);
      const which = sent % servers.length;
      pending.push(
        request(servers[which].port, 'GET', '/__bench/metered', { headers }).then(
          (res) => {
            codes[res.status] = (codes[res.status] ?? 0) + 1;
            if (res.status === 200) {
              perInstance[which]++;
              admittedAt.push(performance.now() - t0);
            }
          },
          () => errors++,
        ),
      );
      sent++;
    }
    await sleep(1);
  }
  await Promise.all(pending);
  const admitted = perInstance.reduce((a, b) => a + b, 0);
  return {
    admitted,
    error_pct: round((100 * Math.abs(admitted - EXPECTED)) / EXPECTED, 2),
    per_instance: perInstance,
    // By the time the answers arrived, so a little wider than the servers' own windows.
    admitted_per_second: perSecond(admittedAt),
    max_admitted_in_any_1s: maxInWindow(admittedAt, 1000),
    codes,
    client_errors: errors,
    load_seconds: round((performance.now() - t0) / 1000, 2),
    max_send_lag_ms: round(maxLagMs, 1),
  };
}

function perSecond(times) {
  const out = new Array(Math.ceil(Math.max(SECONDS * 1000, ...times) / 1000)).fill(0);
  for (const t of times) out[Math.floor(t / 1000)]++;
  return out;
}

/** The most of `times` (ascending) in any span of `ms`. */
function maxInWindow(times, ms) {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j] - sorted[i] >= ms) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

async function run(ctx) {
  const target = await new PgTarget(ctx.opts['pg-url'], 'l4').create();
  const A = ctx.server({ name: 'postgresql-l4-a', target });
  const B = ctx.server({ name: 'postgresql-l4-b', target, secret: A.secret });
  try {
    await A.start();
    await B.start();
    const account = await register(A, 'l4');
    const key = await createKey(A, account.master, `l4-${Date.now()}`, { rateLimit: LIMIT });
    // One request on each puts the key in its cache (a lookup); the wait below empties the window.
    for (const s of [A, B]) {
      const res = await request(s.port, 'GET', '/__bench/metered', {
        headers: { authorization: basicAuth(key) },
      });
      if (res.status !== 200) throw new Error(`${s.name}: ${res.status} ${res.text()}`);
    }
    await sleep(PEERS_SETTLE_MS);
    const listeners = await listenerCount(ctx.opts['pg-url'], target.name);
    const runs = [];
    for (let i = 0; i < ctx.P.limits.l4Reps; i++) {
      if (i > 0) await sleep(LIMIT.windowSeconds * 1000 + 500);
      runs.push(await pacedLoad([A, B], key));
    }
    return {
      fields: { ratelimit_admitted_error_pct: round(median(runs.map((r) => r.error_pct)), 2) },
      details: {
        limit: LIMIT,
        rate_per_s: RATE,
        load_seconds: SECONDS,
        expected: EXPECTED,
        instances_listening: listeners,
        admitted_median: median(runs.map((r) => r.admitted)),
        runs,
      },
    };
  } finally {
    await ctx.release(B);
    await ctx.release(A);
    if (!ctx.opts.keep) await target.drop();
  }
}

/** The key-change listeners on the database: what PeerInstances counts. */
async function listenerCount(adminUrl, database) {
  const { Client } = createRequire(import.meta.url)('pg');
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT application_name, count(*)::int AS n FROM pg_stat_activity
       WHERE datname = $1 GROUP BY application_name`,
      [database],
    );
    return Object.fromEntries(rows.map((r) => [r.application_name || '(none)', r.n]));
  } finally {
    await client.end();
  }
}

export default {
  id: 'L4',
  title: 'rate limit shared by two instances',
  targets: { ratelimit_admitted_error_pct: { op: '<=', value: 1 } },
  standalone: true,
  skip: postgresqlOnly,
  run,
};
