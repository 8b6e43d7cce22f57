#!/usr/bin/env node
// keymeter benchmark suite: `npm run bench [-- --quick] [-- --json]`. See docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DirectDb, PgTarget, SqliteTarget } from './lib/db.mjs';
import { blast, rotatingRequests, TrackedLoad } from './lib/load.mjs';
import { BENCH_DIR, Server, snapshotApp } from './lib/server.mjs';
import {
  basicAuth,
  log,
  mapLimit,
  median,
  nowMs,
  percentile,
  request,
  round,
  setQuiet,
  sleep,
} from './lib/util.mjs';

const REPO = path.resolve(BENCH_DIR, '..');

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    db: { type: 'string', default: 'sqlite,postgresql' },
    'pg-url': {
      type: 'string',
      default: process.env.KEYMETER_BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    },
    'node24-bin': { type: 'string', default: process.env.KEYMETER_BENCH_NODE24_BIN },
    'node24-repo': { type: 'string', default: process.env.KEYMETER_BENCH_NODE24_REPO },
    'b9-requests': { type: 'string' },
    'b9-keys': { type: 'string' },
    'b9-budget': { type: 'string' },
    'b9-heap-mb': { type: 'string' },
    profile: { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    pin: { type: 'string', default: 'auto' },
    help: { type: 'boolean', default: false },
  },
});

if (opts.help) {
  console.log(`usage: npm run bench -- [--quick] [--json] [--only B1,B3] [--db sqlite,postgresql]
  [--pg-url URL] [--node24-bin PATH --node24-repo DIR] [--profile DIR] [--out FILE] [--keep]
  [--pin auto|off] [--b9-requests N] [--b9-keys N] [--b9-budget SECONDS] [--b9-heap-mb MB]
See docs/benchmarks.md.`);
  process.exit(0);
}
setQuiet(false);

const QUICK = {
  mode: 'quick',
  connections: 50,
  warmS: 0.5,
  runS: 1.25,
  unknownS: 1,
  pairs: 3,
  b3Pairs: 10,
  b3Samples: { day: 30, minute: 10 },
  b3OtherStep: 720,
  b4Requests: 8_000,
  b5S: 2.5,
  reps: 1,
  b8Reps: 3,
  b9: { sqlite: { requests: 4_000, keys: 2_000, budgetS: 30 }, postgresql: null },
};
const FULL = {
  mode: 'full',
  connections: 50,
  warmS: 2,
  runS: 4,
  unknownS: 3,
  pairs: 5,
  b3Pairs: 30,
  b3Samples: { day: 100, minute: 30 },
  b3OtherStep: 60,
  b4Requests: 200_000,
  b5S: 6,
  reps: 3,
  b8Reps: 5,
  b9: {
    sqlite: { requests: 1_000_000, keys: 100_000, budgetS: 300 },
    postgresql: { requests: 1_000_000, keys: 100_000, budgetS: 90 },
  },
};
const P = opts.quick ? QUICK : FULL;
const FLUSH_MS = 1000; // keymeter's default USAGE_FLUSH_INTERVAL_MS, which the suite runs with
const SETTLE_MS = FLUSH_MS + 200; // long enough for one timer flush to have written everything
const ONLY = opts.only ? new Set(opts.only.toUpperCase().split(',')) : null;
const want = (id) => !ONLY || ONLY.has(id);

const TARGETS = {
  metered_over_unmetered: { scenario: 'B1', op: '>=', value: 0.9 },
  buffered_over_strict_hot: { scenario: 'B2', op: '>=', value: 10 },
  buffered_over_strict_spread: { scenario: 'B2', op: '>=', value: 5 },
  query_day_p95_ms: { scenario: 'B3', op: '<=', value: 20 },
  query_minute_p95_ms: { scenario: 'B3', op: '<=', value: 300 },
  lost: { scenario: 'B4', op: '==', value: 0 },
  double_counted: { scenario: 'B4', op: '==', value: 0 },
  lost_on_sigterm: { scenario: 'B5', op: '==', value: 0 },
  lost_on_sigkill_max_ms: { scenario: 'B6', op: '<=', value: FLUSH_MS },
  invalid_key_db_queries: { scenario: 'B7', op: '==', value: 0 },
  invalid_over_metered: { scenario: 'B7', op: '>=', value: 1.0 },
  revocation_ms: { scenario: 'B8', op: 'next request', value: null },
  rss_mb: { scenario: 'B9', op: 'report', value: null },
};

// ---------------------------------------------------------------------------------------------
// Set-up shared by all scenarios

const runRoot = mkdtempSync(path.join(os.tmpdir(), 'keymeter-bench-'));
const logDir = path.join(runRoot, 'logs');
mkdirSync(logDir, { recursive: true });
const profileDir = opts.profile ? path.resolve(opts.profile) : undefined;

/**
 * CPU pinning: the load generator (this process) on CPU 0, keymeter on the others, so that
 * autocannon and the server do not preempt each other on one core. Off with --pin off, or
 * when there is one CPU or no taskset.
 */
function pinning() {
  const n = os.cpus().length;
  if (opts.pin === 'off' || n < 2) return { server: undefined, note: 'off' };
  try {
    execFileSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
  } catch {
    return { server: undefined, note: 'off (taskset unavailable)' };
  }
  const server = n === 2 ? '1' : `1-${n - 1}`;
  return { server, note: `load generator on CPU 0, keymeter on CPU ${server}` };
}
const PIN = pinning();
if (profileDir) mkdirSync(profileDir, { recursive: true });

const live = new Set();
function track(server) {
  live.add(server);
  return server;
}
process.on('exit', () => {
  for (const s of live) if (s.child && s.child.exitCode === null) s.child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`\n${signal}: stopping the servers started by the benchmark`);
    process.exit(130);
  });
}

const appDir = await snapshotApp(REPO, path.join(runRoot, 'app'));
const appRequire = createRequire(path.join(appDir, 'dist', 'main.js'));
const { generateKey, displayPrefix } = appRequire('./common/crypto/key-format.js');
const { hashKey } = appRequire('./common/crypto/key-crypto.js');

/** Steal and total jiffies of all CPUs from /proc/stat (Linux), or null. */
function cpuSteal() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return { steal: fields[7] ?? 0, total: fields.slice(0, 8).reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

function pkgVersion(dir, name) {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'node_modules', name, 'package.json'), 'utf8'))
      .version;
  } catch {
    return null;
  }
}
function git(...args) {
  try {
    return execFileSync('git', args, {
      cwd: REPO,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

/** Well-formed keys (right prefix, length and checksum) that no database holds. */
function unknownKeys(n) {
  return Array.from({ length: n }, () => generateKey('km_'));
}

/** Keys that fail before any lookup: wrong checksum, wrong length, wrong prefix, junk. */
function invalidKeys(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const key = generateKey('km_');
    switch (i % 4) {
      case 0:
      case 1: {
        const last = key.at(-1) === 'A' ? 'B' : 'A';
        out.push(key.slice(0, -1) + last); // checksum does not match
        break;
      }
      case 2:
        out.push(key.slice(0, -3)); // too short
        break;
      default:
        out.push(`xx_${key.slice(3)}`); // wrong prefix
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HTTP seeding through keymeter's own API

async function register(server, label) {
  const email = `${label}-${Date.now()}-${Math.floor(Math.random() * 1e9)}@bench.example.com`;
  const res = await request(server.port, 'POST', '/api/v1/auth/register', {
    body: { email, password: 'benchmark-password' },
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${res.text()}`);
  const { data } = res.json();
  return { email, accountId: data.account.id, master: data.apiKey, masterId: data.id };
}

async function createKey(server, master, name) {
  const res = await request(server.port, 'POST', '/1.0/keys', {
    headers: { authorization: basicAuth(master) },
    body: { name },
  });
  if (res.status !== 200) throw new Error(`create key: ${res.status} ${res.text()}`);
  return res.json().key;
}

async function listKeys(server, master) {
  const res = await request(server.port, 'GET', '/1.0/keys', {
    headers: { authorization: basicAuth(master) },
  });
  if (res.status !== 200) throw new Error(`list keys: ${res.status} ${res.text()}`);
  return res.json().keys;
}

async function createKeys(server, master, names) {
  return mapLimit(names, 16, (name) => createKey(server, master, name));
}

function generatedKeys(n, namePrefix) {
  return Array.from({ length: n }, (_, i) => {
    const key = generateKey('km_');
    return {
      key,
      hash: hashKey(key),
      prefix: displayPrefix(key, 'km_'),
      name: `${namePrefix}-${i}`,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Running variants A B A B ...

async function interleave(variants, pairs, run, { warm = true } = {}) {
  if (warm) for (const v of variants) await run(v, -1);
  const runs = new Map(variants.map((v) => [v, []]));
  for (let i = 0; i < pairs; i++) {
    for (const v of variants) runs.get(v).push(await run(v, i));
  }
  return runs;
}

/** Ratio a/b per pair: median and worst (lowest). */
function pairRatios(a, b, field = 'rps') {
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
async function measure(server, blastOptions) {
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
async function waitForFlush(server) {
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

function summary(runs) {
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

// ---------------------------------------------------------------------------------------------
// Scenarios

/**
 * B1, B2 and B7 share one interleaved series of runs on the main instance (S), the strict
 * instance (T, USAGE_FLUSH_INTERVAL_MS=0, same database) and, on SQLite, the Node 24 instance:
 *
 *   S spread | T spread | S unmetered | S metered | T hot | S invalid | (N unmetered | N metered)
 *
 * repeated `pairs` times after one warm-up of each. The hot-key metered run of S is B1's
 * metered, B2's buffered-hot and B7's metered variant. Each timer flush is kept out of the
 * runs it could distort: "T spread" starts once S has written its 1,000-key flush, the hot
 * key's one-row flush is written during "T hot" (and waited for), so the statements counted
 * during "S invalid" are the invalid keys' own.
 */
async function throughputSuite(ctx) {
  const { S } = ctx;
  const b1 = ctx.want('B1');
  const b2 = ctx.want('B2');
  const b7 = ctx.want('B7');
  const hot = [basicAuth(ctx.hot)];
  const spread = ctx.loadKeys.map(basicAuth);
  const invalid = invalidKeys(1000).map(basicAuth);
  const variants = [];
  const add = (id, server, path, pool, before) => variants.push({ id, server, path, pool, before });
  // Puts the 1,000 keys in the instance's key cache without metering them (a non-master key on
  // a master route is looked up, then refused with 403), so that the spread runs measure the
  // steady state rather than the burst of lookups after the 5-second cache expiry.
  const touch = (server) => () =>
    blast({
      port: server.port,
      connections: 20,
      amount: spread.length,
      requests: rotatingRequests('/1.0/keys', spread),
    });
  if (b2) {
    add('buffered_spread', S, '/__bench/metered', spread, touch(S));
    // The 1,000-key flush of the buffered run must be over before the strict run starts.
    add('strict_spread', ctx.T, '/__bench/metered', spread, () =>
      Promise.all([waitForFlush(S), touch(ctx.T)()]),
    );
  }
  if (b1) add('unmetered', S, '/__bench/noop', hot); // the same request; the route is @Public()
  add('metered', S, '/__bench/metered', hot);
  if (b2) add('strict_hot', ctx.T, '/__bench/metered', hot);
  if (b7) add('invalid', S, '/__bench/metered', invalid, () => waitForFlush(S));
  if (b1 && ctx.node24) {
    const n24 = [basicAuth(ctx.node24.key)];
    add('node24_unmetered', ctx.node24.server, '/__bench/noop', n24);
    add('node24_metered', ctx.node24.server, '/__bench/metered', n24);
  }
  const spent = { preparing_s: 0, measuring_s: 0, load_s: 0 };
  const runs = await interleave(variants, P.pairs, async (v, i) => {
    const t0 = performance.now();
    if (v.before && i >= 0) await v.before();
    const t1 = performance.now();
    const r = await measure(v.server, {
      connections: P.connections,
      duration: i < 0 ? P.warmS : P.runS,
      requests: rotatingRequests(v.path, v.pool),
    });
    spent.preparing_s += (t1 - t0) / 1000;
    spent.measuring_s += (performance.now() - t1) / 1000;
    spent.load_s += r.duration_s;
    return r;
  });
  for (const k of Object.keys(spent)) spent[k] = round(spent[k], 1);
  ctx.seriesTime = spent;
  const get = (id) => runs.get(variants.find((v) => v.id === id));
  const runtime = (unmeteredId, meteredId) => {
    const u = get(unmeteredId);
    const m = get(meteredId);
    const ratio = pairRatios(m, u);
    const cpu = pairRatios(u, m, 'cpu_us_per_req');
    return {
      node: variants.find((v) => v.id === meteredId).server.info.node,
      unmetered: summary(u),
      metered: summary(m),
      metered_over_unmetered: round(ratio.median, 3),
      metered_over_unmetered_worst: round(ratio.worst, 3),
      pair_ratios: ratio.pairs,
      // The same comparison by the server's CPU time per request (unmetered / metered).
      metered_over_unmetered_cpu: round(cpu.median, 3),
      metered_over_unmetered_cpu_worst: round(cpu.worst, 3),
    };
  };
  const out = {};
  if (b1) {
    const runtimes = {
      [`node${process.versions.node.split('.')[0]}`]: runtime('unmetered', 'metered'),
    };
    if (ctx.node24) runtimes.node24 = runtime('node24_unmetered', 'node24_metered');
    const main = Object.values(runtimes)[0];
    out.B1 = {
      fields: {
        metered_over_unmetered: main.metered_over_unmetered,
        metered_over_unmetered_worst: main.metered_over_unmetered_worst,
      },
      details: {
        connections: P.connections,
        run_s: P.runS,
        pairs: P.pairs,
        order: variants.map((v) => v.id),
        runtimes,
      },
    };
  }
  if (b2) {
    const hotR = pairRatios(get('metered'), get('strict_hot'));
    const spreadR = pairRatios(get('buffered_spread'), get('strict_spread'));
    out.B2 = {
      fields: {
        buffered_over_strict_hot: round(hotR.median, 2),
        buffered_over_strict_hot_worst: round(hotR.worst, 2),
        buffered_over_strict_spread: round(spreadR.median, 2),
        buffered_over_strict_spread_worst: round(spreadR.worst, 2),
      },
      details: {
        connections: P.connections,
        spread_keys: ctx.loadKeys.length,
        buffered_hot: summary(get('metered')),
        strict_hot: summary(get('strict_hot')),
        buffered_spread: summary(get('buffered_spread')),
        strict_spread: summary(get('strict_spread')),
        hot_pair_ratios: hotR.pairs,
        spread_pair_ratios: spreadR.pairs,
      },
    };
  }
  if (b7) {
    const inv = get('invalid');
    const m = get('metered');
    const ratio = pairRatios(inv, m);
    const cpu = pairRatios(m, inv, 'cpu_us_per_req');
    // Unknown keys: well-formed, right checksum, in no database (anyone can compute a CRC32).
    const unknown = async (pool) => {
      const r = await measure(S, {
        connections: P.connections,
        duration: P.unknownS,
        requests: rotatingRequests('/__bench/metered', pool),
      });
      return {
        requests: r.total,
        db_queries: r.db_queries,
        distinct_keys: Math.min(pool.length, r.total),
        rps: round(r.rps, 0),
        cpu_us_per_req: round(r.cpu_us_per_req, 1),
        duration_s: round(r.duration_s, 2),
        codes: r.codes,
      };
    };
    const repeated = await unknown(unknownKeys(100).map(basicAuth));
    const fresh = await unknown(unknownKeys(Math.ceil(P.unknownS * 6000)).map(basicAuth));
    const invalidQueries = inv.reduce((n, r) => n + r.db_queries, 0);
    out.B7 = {
      fields: {
        invalid_key_db_queries: invalidQueries,
        invalid_over_metered: round(ratio.median, 3),
        invalid_over_metered_worst: round(ratio.worst, 3),
        unknown_key_db_queries_per_request: round(
          fresh.db_queries / Math.max(1, fresh.requests),
          3,
        ),
      },
      details: {
        invalid: {
          ...summary(inv),
          requests: inv.reduce((n, r) => n + r.total, 0),
          db_queries: invalidQueries,
          kinds: 'wrong checksum (1/2), wrong length (1/4), wrong prefix (1/4); 1,000 distinct',
        },
        metered: summary(m),
        pair_ratios: ratio.pairs,
        invalid_over_metered_cpu: round(cpu.median, 3),
        unknown_repeated_100_keys: repeated,
        unknown_fresh_keys: fresh,
      },
    };
  }
  return out;
}

async function scenarioB3(ctx) {
  const { S, db } = ctx;
  const archive = await register(S, 'archive');
  const denseKey = await createKey(S, archive.master, 'dense');
  const denseId = (await listKeys(S, archive.master)).find((k) => k.name === 'dense').id;
  const t0 = performance.now();
  const others = await db.insertKeys(archive.accountId, generatedKeys(1000, 'other'));
  const nowMinute = Math.floor(Date.now() / 60_000);
  const fromMinute = nowMinute - 90 * 1440;
  await db.insertSparseUsage(others, fromMinute, nowMinute, P.b3OtherStep);
  const dense = await db.insertDenseUsage(denseId, fromMinute, nowMinute);
  const seedMs = performance.now() - t0;
  const [{ n: totalRows }] = await db.all('SELECT COUNT(*) AS n FROM usage_minutes');
  log(
    `    seeded ${dense.rows} dense minutes + ${others.length} other keys (${Number(totalRows)} rows in all) in ${Math.round(seedMs)} ms`,
  );

  const from = new Date(fromMinute * 60_000).toISOString();
  const to = new Date(nowMinute * 60_000).toISOString();
  const headers = { authorization: basicAuth(archive.master) };
  const query = async (interval) => {
    const res = await request(
      S.port,
      'GET',
      `/1.0/keys/${denseKey}?interval=${interval}&from=${from}&to=${to}`,
      { headers },
    );
    if (res.status !== 200)
      throw new Error(`usage query ${interval}: ${res.status} ${res.text().slice(0, 200)}`);
    return res;
  };
  // Correctness first: every inserted minute is in both answers.
  const check = {};
  for (const interval of ['day', 'minute']) {
    const { results } = (await query(interval)).json();
    const count = results.reduce((n, r) => n + r.count, 0);
    const volume = results.reduce((n, r) => n + r.volume, 0);
    check[interval] = {
      buckets: results.length,
      count_matches: count === dense.count,
      volume_matches: volume === dense.volume,
    };
  }
  // Each interval in its own sequential series: a day query right after an 8 MB minute answer
  // also pays for the collection of that answer's garbage, which says more about the minute
  // query than about the day query. The mixed series is reported too (details.mixed).
  const samples = { day: [], minute: [] };
  const mixed = { day: [], minute: [] };
  let minuteBytes = 0;
  // A few queries of each first: the first ones after start-up also pay for compiling the path.
  for (let i = 0; i < 3; i++) for (const v of ['day', 'minute']) await query(v);
  // A p95 of 30 samples is their second worst, one noisy moment of a shared machine; the day
  // query is cheap enough for 100 in a full run (the sixth worst).
  for (const v of ['day', 'minute']) {
    await S.gc();
    for (let i = 0; i < P.b3Samples[v]; i++) {
      const res = await query(v);
      samples[v].push(res.ms);
      if (v === 'minute') minuteBytes = res.buffer.length;
    }
  }
  for (let i = 0; i < P.b3Pairs; i++) {
    for (const v of ['day', 'minute']) mixed[v].push((await query(v)).ms);
  }
  return {
    fields: {
      query_day_p95_ms: round(percentile(samples.day, 95), 1),
      query_minute_p95_ms: round(percentile(samples.minute, 95), 1),
    },
    details: {
      samples: { ...P.b3Samples, mixed_pairs: P.b3Pairs },
      day: {
        p50_ms: round(median(samples.day), 1),
        p95_ms: round(percentile(samples.day, 95), 1),
        max_ms: round(Math.max(...samples.day), 1),
      },
      minute: {
        p50_ms: round(median(samples.minute), 1),
        p95_ms: round(percentile(samples.minute, 95), 1),
        max_ms: round(Math.max(...samples.minute), 1),
        response_mb: round(minuteBytes / 1e6, 2),
      },
      mixed: {
        day_p50_ms: round(median(mixed.day), 1),
        day_p95_ms: round(percentile(mixed.day, 95), 1),
        minute_p50_ms: round(median(mixed.minute), 1),
        minute_p95_ms: round(percentile(mixed.minute, 95), 1),
      },
      check,
      dense_minutes: dense.rows,
      other_keys: others.length,
      other_key_step_minutes: P.b3OtherStep,
      usage_rows_total: Number(totalRows),
      seed_ms: Math.round(seedMs),
    },
  };
}

/** Compares what the server acknowledged per key with what the database gained. */
function compare(load, ids, before, after) {
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

async function scenarioB4(ctx) {
  const { S, db } = ctx;
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

/** Load over the 1,000 keys, `signal` half-way, restart, compare. */
async function interrupted(ctx, signal) {
  const { S, db } = ctx;
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

async function scenarioB5(ctx) {
  const reps = [];
  for (let i = 0; i < P.reps; i++) reps.push(await interrupted(ctx, 'SIGTERM'));
  return {
    fields: { lost_on_sigterm: Math.max(...reps.map((r) => r.lost)) },
    details: { repetitions: reps, load_s: P.b5S, signal_after_s: P.b5S / 2 },
  };
}

async function scenarioB6(ctx) {
  const reps = [];
  for (let i = 0; i < P.reps; i++) reps.push(await interrupted(ctx, 'SIGKILL'));
  return {
    fields: { lost_on_sigkill_max_ms: Math.max(...reps.map((r) => r.lost_ms)) },
    details: {
      flush_interval_ms: FLUSH_MS,
      repetitions: reps,
      load_s: P.b5S,
      signal_after_s: P.b5S / 2,
    },
  };
}

/**
 * A client calls with a key every 10 ms (on `clientServer`); the key is deactivated through
 * `adminServer`. Measures when the first 401 comes after the PATCH returned, and whether any
 * request sent after that was still accepted.
 */
async function revocation(clientServer, adminServer, ctx, label) {
  const key = await createKey(
    adminServer,
    ctx.load.master,
    `revoke-${label}-${Date.now()}-${Math.random()}`,
  );
  const headers = { authorization: basicAuth(key) };
  const calls = [];
  let patchedAt = null;
  let stop = false;
  const deadline = nowMs() + 15_000;
  const client = (async () => {
    while (!stop && nowMs() < deadline) {
      const sentAt = nowMs();
      const res = await request(clientServer.port, 'GET', '/__bench/metered', { headers });
      const recvAt = nowMs();
      calls.push({ sentAt, recvAt, status: res.status });
      if (
        patchedAt !== null &&
        res.status === 401 &&
        calls.filter((c) => c.sentAt >= patchedAt).length >= 3
      )
        stop = true;
      await sleep(Math.max(0, 10 - (recvAt - sentAt)));
    }
  })();
  await sleep(300);
  const patchStart = nowMs();
  const res = await request(adminServer.port, 'PATCH', `/1.0/keys/${key}`, {
    headers: { authorization: basicAuth(ctx.load.master) },
    body: { isActive: false },
  });
  patchedAt = nowMs();
  if (res.status !== 200) throw new Error(`PATCH: ${res.status} ${res.text()}`);
  await client;
  const after = calls.filter((c) => c.sentAt >= patchedAt);
  const first401 = calls.find((c) => c.status === 401 && c.recvAt >= patchStart);
  return {
    revocation_ms: first401 ? round(Math.max(0, first401.recvAt - patchedAt), 1) : null,
    next_request_rejected: after.length > 0 && after[0].status === 401,
    accepted_after_patch_returned: after.filter((c) => c.status < 300).length,
    patch_ms: round(patchedAt - patchStart, 1),
    calls: calls.length,
  };
}

async function scenarioB8(ctx) {
  const reps = [];
  for (let i = 0; i < P.b8Reps; i++) reps.push(await revocation(ctx.S, ctx.S, ctx, `same-${i}`));
  const ok = reps.every((r) => r.next_request_rejected && r.accepted_after_patch_returned === 0);
  // Informative (full mode): the client calls another instance sharing the database, which
  // trusts its cached copy of the key for up to KEY_CACHE_TTL_MS.
  const other = ctx.T && P.mode === 'full' ? await revocation(ctx.T, ctx.S, ctx, 'other') : null;
  return {
    fields: {
      revocation_ms: Math.max(...reps.map((r) => r.revocation_ms ?? Infinity)),
      revocation_next_request: ok,
    },
    details: {
      same_instance: reps,
      client_interval_ms: 10,
      other_instance: other ?? 'not measured (full mode only)',
    },
  };
}

async function scenarioB9(kind, pgUrl, scale) {
  const target =
    kind === 'sqlite' ? new SqliteTarget(runRoot, 'b9') : await new PgTarget(pgUrl, 'b9').create();
  const R = track(
    new Server({
      name: `${kind}-b9`,
      appDir,
      node: process.execPath,
      // --b9-heap-mb: the bound an operator would set, to see what RSS it holds the process to.
      nodeArgs: scale.heapMb ? [`--max-old-space-size=${scale.heapMb}`] : [],
      target,
      logDir,
      profileDir,
      cpus: PIN.server,
    }),
  );
  let db;
  try {
    await R.start();
    const account = await register(R, 'b9');
    db = await DirectDb.open(target);
    const keys = generatedKeys(scale.keys, 'b9');
    const t0 = performance.now();
    await db.insertKeys(account.accountId, keys);
    const seedMs = performance.now() - t0;
    await R.gc();
    const idle = await R.stats();
    const load = new TrackedLoad(
      keys.map((k) => k.key),
      { maxBody: 256 },
    );
    // In chunks, so that a slow machine stops at the time budget (and says how far it got).
    const requests = load.requests('/__bench/metered');
    const t1 = performance.now();
    let done = 0;
    let errors = 0;
    const latencies = [];
    while (done < scale.requests && performance.now() - t1 < scale.budgetS * 1000) {
      const chunk = Math.min(20_000, scale.requests - done);
      const r = await blast({ port: R.port, connections: 100, amount: chunk, requests });
      done += r.total;
      errors += r.errors + r.timeouts;
      latencies.push(r.p99_ms);
    }
    const loadS = (performance.now() - t1) / 1000;
    const end = await R.stats();
    await waitForFlush(R);
    const settled = await R.stats();
    await R.gc();
    const live = await R.stats();
    const [{ c }] = await db.all(
      'SELECT COALESCE(SUM(usage_count), 0) AS c FROM api_keys WHERE account_id = ? AND is_master = ?',
      [account.accountId, kind === 'sqlite' ? 0 : false],
    );
    const mb = (b) => round(b / 2 ** 20, 1);
    return {
      fields: { rss_mb: mb(end.rss) },
      details: {
        requests: done,
        requests_planned: scale.requests,
        stopped_by_time_budget: done < scale.requests ? `${scale.budgetS} s` : false,
        keys: scale.keys,
        connections: 100,
        rps: round(done / loadS, 0),
        p99_ms_worst_chunk: Math.max(...latencies),
        errors,
        rss_before_load_mb: mb(idle.rss),
        max_old_space_mb: scale.heapMb,
        rss_after_load_mb: mb(end.rss),
        rss_after_flush_mb: mb(settled.rss),
        heap_used_after_load_mb: mb(end.heapUsed),
        heap_total_after_load_mb: mb(end.heapTotal),
        external_after_load_mb: mb(end.external),
        rss_after_gc_mb: mb(live.rss),
        heap_live_before_load_mb: mb(idle.heapUsed),
        heap_live_after_gc_mb: mb(live.heapUsed),
        heap_live_per_key_bytes: Math.round((live.heapUsed - idle.heapUsed) / scale.keys),
        db_queries_per_request: round((end.dbQueries - idle.dbQueries) / Math.max(1, done), 3),
        acknowledged: load.totalOk,
        written: Number(c),
        key_seed_ms: Math.round(seedMs),
      },
    };
  } finally {
    await db?.close();
    await R.stop();
    live.delete(R);
    if (!opts.keep) await target.drop();
  }
}

// ---------------------------------------------------------------------------------------------
// One database: a main instance, seeded once, that B1-B8 share.

async function runDatabase(kind, extras) {
  const started = performance.now();
  const result = { fields: {}, details: {}, errors: {} };
  const target =
    kind === 'sqlite'
      ? new SqliteTarget(runRoot, 'main')
      : await new PgTarget(opts['pg-url'], 'main').create();
  const S = track(
    new Server({
      name: `${kind}-main`,
      appDir,
      node: process.execPath,
      target,
      logDir,
      profileDir,
      cpus: PIN.server,
    }),
  );
  // --quick keeps PostgreSQL to the scenarios whose figures depend on the database: B1 and B7
  // measure the in-memory path (cache hit, no database), the same code on both.
  const inQuickScope = (id) =>
    !(P.mode === 'quick' && kind === 'postgresql' && (id === 'B1' || id === 'B7'));
  const wantHere = (id) => want(id) && inQuickScope(id);
  const ctx = { kind, target, S, want: wantHere };
  for (const id of ['B1', 'B7']) {
    if (want(id) && !inQuickScope(id))
      result.details[id] = {
        skipped: 'SQLite only in --quick (the path measured does not touch the database)',
      };
  }
  const step = async (id, fn) => {
    if (!wantHere(id)) return;
    const t0 = performance.now();
    log(`  ${id} on ${kind}...`);
    try {
      const out = await fn();
      Object.assign(result.fields, out.fields);
      result.details[id] = { ...out.details, seconds: round((performance.now() - t0) / 1000, 1) };
      log(
        `  ${id} on ${kind}: ${JSON.stringify(out.fields)} (${Math.round((performance.now() - t0) / 1000)} s)`,
      );
    } catch (error) {
      result.errors[id] = error instanceof Error ? error.stack : String(error);
      log(`  ${id} on ${kind} FAILED: ${result.errors[id]}`);
      const down = S.child && (S.child.exitCode !== null || S.child.signalCode !== null);
      if (id !== 'B9' && down) await S.start().catch(() => undefined);
    }
  };
  try {
    await S.start();
    ctx.db = await DirectDb.open(target);
    result.version = await ctx.db.version();
    const t0 = performance.now();
    ctx.load = await register(S, 'load');
    ctx.hot = await createKey(S, ctx.load.master, 'hot');
    ctx.loadKeys = await createKeys(
      S,
      ctx.load.master,
      Array.from({ length: 1000 }, (_, i) => `load-${i}`),
    );
    const byKey = new Map((await listKeys(S, ctx.load.master)).map((k) => [k.key, k.id]));
    ctx.loadIds = ctx.loadKeys.map((k) => byKey.get(k));
    result.details.seed = { keys: 1001, seconds: round((performance.now() - t0) / 1000, 1) };
    log(`  seeded 1,001 keys through the API in ${result.details.seed.seconds} s`);
    if (wantHere('B2')) {
      ctx.T = track(
        new Server({
          name: `${kind}-strict`,
          appDir,
          node: process.execPath,
          target,
          env: { USAGE_FLUSH_INTERVAL_MS: '0' },
          logDir,
          profileDir,
          cpus: PIN.server,
          secret: S.secret,
        }),
      );
      await ctx.T.start();
    }
    if (kind === 'sqlite' && extras.node24 && wantHere('B1')) {
      const n24 = extras.node24;
      const t24 = new SqliteTarget(runRoot, 'node24');
      n24.server = track(
        new Server({
          name: 'sqlite-node24',
          appDir: n24.appDir,
          node: n24.bin,
          target: t24,
          logDir,
          profileDir,
          cpus: PIN.server,
        }),
      );
      try {
        await n24.server.start();
        const acct = await register(n24.server, 'n24');
        n24.key = await createKey(n24.server, acct.master, 'hot');
        ctx.node24 = n24;
      } catch (error) {
        extras.onNode24Error(error);
        await n24.server.stop();
        live.delete(n24.server);
      }
    }
    if (wantHere('B1') || wantHere('B2') || wantHere('B7')) {
      const ids = ['B1', 'B2', 'B7'].filter(wantHere).join('+');
      const t1 = performance.now();
      log(`  ${ids} on ${kind} (one interleaved series)...`);
      try {
        const out = await throughputSuite(ctx);
        for (const [id, o] of Object.entries(out)) {
          Object.assign(result.fields, o.fields);
          result.details[id] = o.details;
          log(`  ${id} on ${kind}: ${JSON.stringify(o.fields)}`);
        }
        result.details.throughput_series_seconds = round((performance.now() - t1) / 1000, 1);
        result.details.throughput_series_time = ctx.seriesTime;
      } catch (error) {
        result.errors[ids] = error instanceof Error ? error.stack : String(error);
        log(`  ${ids} on ${kind} FAILED: ${result.errors[ids]}`);
      }
    }
    if (ctx.node24) {
      await ctx.node24.server.stop();
      live.delete(ctx.node24.server);
    }
    await step('B8', () => scenarioB8(ctx));
    if (ctx.T) {
      await ctx.T.stop();
      live.delete(ctx.T);
    }
    await step('B4', () => scenarioB4(ctx));
    await step('B5', () => scenarioB5(ctx));
    await step('B6', () => scenarioB6(ctx));
    await step('B3', () => scenarioB3(ctx));
  } catch (error) {
    result.errors.setup = error instanceof Error ? error.stack : String(error);
    log(`  ${kind} set-up FAILED: ${result.errors.setup}\n${S.logTail()}`);
  } finally {
    await ctx.db?.close();
    await S.stop();
    live.delete(S);
    if (!opts.keep) await target.drop();
  }
  const scale = P.b9[kind] && {
    requests: Number(opts['b9-requests'] ?? P.b9[kind].requests),
    keys: Number(opts['b9-keys'] ?? P.b9[kind].keys),
    budgetS: Number(opts['b9-budget'] ?? P.b9[kind].budgetS),
    heapMb: opts['b9-heap-mb'] ? Number(opts['b9-heap-mb']) : null,
  };
  if (want('B9')) {
    if (!scale) {
      result.details.B9 = {
        skipped: `not run on ${kind} in ${P.mode} mode (memory does not depend on the database; see docs/benchmarks.md)`,
      };
    } else {
      await step('B9', () => scenarioB9(kind, opts['pg-url'], scale));
    }
  }
  result.seconds = round((performance.now() - started) / 1000, 0);
  if (Object.keys(result.errors).length === 0) delete result.errors;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Report

function verdict(field, value) {
  const t = TARGETS[field];
  if (!t || value === null || value === undefined) return null;
  switch (t.op) {
    case '>=':
      return value >= t.value;
    case '<=':
      return value <= t.value;
    case '==':
      return value === t.value;
    default:
      return null;
  }
}

function targetText(field) {
  const t = TARGETS[field];
  if (t.op === 'report') return 'report';
  if (t.op === 'next request') return 'next request';
  return `${t.op === '==' ? '=' : t.op === '>=' ? '≥' : '≤'} ${t.value}`;
}

function table(report) {
  const dbs = Object.keys(report.results);
  const lines = [];
  lines.push(
    `keymeter benchmark (${report.mode}), ${report.started_at}; ${report.duration_s} s`,
    `Node ${report.versions.node}, NestJS ${report.versions.nestjs}, Prisma ${report.versions.prisma}, ` +
      `SQLite ${report.versions.sqlite ?? '-'}, PostgreSQL ${report.versions.postgresql ?? '-'}, autocannon ${report.versions.autocannon}; ` +
      `keymeter ${report.versions.keymeter}`,
    `${report.machine.cpus} x ${report.machine.cpu_model}, ${report.machine.memory_gib} GiB, load average ${report.machine.loadavg_start.join(' ')} -> ${report.machine.loadavg_end.join(' ')}; CPU steal ${report.machine.cpu_steal_pct ?? '-'} %; CPU pinning: ${report.settings.cpu_pinning}`,
    '',
  );
  const header = [
    'scenario',
    'field',
    ...dbs.map((d) => `${d} (median / worst)`),
    'target',
    ...dbs.map((d) => `${d} met`),
  ];
  const rows = [header];
  const worstOf = (r, field) => r.fields[`${field}_worst`];
  for (const field of Object.keys(TARGETS)) {
    const t = TARGETS[field];
    const cells = dbs.map((d) => {
      const r = report.results[d];
      if (r.skipped) return 'skipped';
      const v = r.fields?.[field];
      if (v === undefined) {
        if (r.details?.[t.scenario]?.skipped) return 'not run';
        return Object.keys(r.errors ?? {}).some((k) => k.includes(t.scenario)) ? 'error' : '-';
      }
      const w = worstOf(r, field);
      if (field === 'revocation_ms')
        return `${v} ms (${r.fields.revocation_next_request ? 'next request 401' : 'LATE'})`;
      return w !== undefined ? `${v} / ${w}` : String(v);
    });
    const met = dbs.map((d) => {
      const r = report.results[d];
      if (field === 'revocation_ms')
        return r.fields?.revocation_next_request === undefined
          ? ''
          : r.fields.revocation_next_request
            ? 'yes'
            : 'NO';
      const ok = verdict(field, r.fields?.[field]);
      return ok === null ? '' : ok ? 'yes' : 'NO';
    });
    rows.push([t.scenario, field, ...cells, targetText(field), ...met]);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const [i, r] of rows.entries()) {
    lines.push(
      r
        .map((c, j) => String(c).padEnd(widths[j]))
        .join('  ')
        .trimEnd(),
    );
    if (i === 0) lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  // B1 in absolute terms, per runtime
  lines.push(
    '',
    'B1 absolute (medians of the runs; 50 connections; latency p50/p99 in ms; server CPU per request):',
  );
  const abs = (v) => `${v.rps} req/s, p50 ${v.p50_ms}, p99 ${v.p99_ms}, ${v.cpu_us_per_req} µs CPU`;
  for (const d of dbs) {
    const b1 = report.results[d].details?.B1;
    if (!b1?.runtimes) continue;
    for (const [label, rt] of Object.entries(b1.runtimes)) {
      lines.push(
        `  ${d} ${label} (${rt.node}): unmetered ${abs(rt.unmetered)} | metered ${abs(rt.metered)} | ` +
          `ratio ${rt.metered_over_unmetered} (by CPU ${rt.metered_over_unmetered_cpu})`,
      );
    }
  }
  if (report.node24_note) lines.push(`  ${report.node24_note}`);
  for (const d of dbs) {
    const r = report.results[d];
    if (r.skipped) lines.push('', `${d}: skipped (${r.skipped})`);
    if (r.errors)
      lines.push('', `${d}: errors in ${Object.keys(r.errors).join(', ')} (see --json)`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const startedAt = new Date();
  const t0 = performance.now();
  const loadStart = os.loadavg().map((l) => round(l, 2));
  const stealStart = cpuSteal();
  const kinds = opts.db
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const report = {
    suite: 'keymeter-bench',
    mode: P.mode,
    started_at: startedAt.toISOString(),
    versions: {
      node: process.version,
      nestjs: pkgVersion(appDir, '@nestjs/core'),
      prisma: pkgVersion(appDir, '@prisma/client'),
      better_sqlite3: pkgVersion(appDir, 'better-sqlite3'),
      pg: pkgVersion(appDir, 'pg'),
      autocannon: pkgVersion(REPO, 'autocannon'),
      sqlite: null,
      postgresql: null,
      keymeter: `${git('rev-parse', '--short', 'HEAD') ?? 'unknown'}${git('status', '--porcelain', '--', 'src', 'prisma') ? '+dirty' : ''}`,
    },
    machine: {
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model?.replace(/\s+/g, ' ').trim(),
      memory_gib: round(os.totalmem() / 2 ** 30, 1),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      loadavg_start: loadStart,
    },
    settings: { ...P, flush_interval_ms: FLUSH_MS, cpu_pinning: PIN.note },
    targets: Object.fromEntries(Object.keys(TARGETS).map((k) => [k, targetText(k)])),
    results: {},
  };
  log(`keymeter benchmark (${P.mode}); app snapshot in ${appDir}; logs in ${logDir}`);

  let node24 = null;
  if (opts['node24-bin'] && opts['node24-repo']) {
    const bin = path.resolve(opts['node24-bin']);
    const repo = path.resolve(opts['node24-repo']);
    if (existsSync(bin) && existsSync(path.join(repo, 'dist', 'main.js'))) {
      const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
      // The same build as the Node 20 runs, with the node_modules installed under Node 24
      // (better-sqlite3 is native).
      const appDir24 = path.join(runRoot, 'app-node24');
      cpSync(appDir, appDir24, {
        recursive: true,
        filter: (src) => src !== path.join(appDir, 'node_modules'),
      });
      symlinkSync(path.join(repo, 'node_modules'), path.join(appDir24, 'node_modules'), 'dir');
      node24 = { bin, repo, version, appDir: appDir24 };
      report.versions.node24 = version;
      try {
        report.versions.node24_sqlite = execFileSync(
          bin,
          [
            '-e',
            `const D=require(require('./dist/prisma/sqlite-driver.js').SQLITE_DRIVER);console.log(new D(':memory:').prepare('select sqlite_version() v').get().v)`,
          ],
          { cwd: appDir24, encoding: 'utf8' },
        ).trim();
      } catch {
        report.versions.node24_sqlite = null;
      }
    } else {
      report.node24_note = `Node 24 not measured: ${bin} or ${repo}/dist/main.js missing`;
    }
  } else {
    report.node24_note =
      'Node 24 not measured (pass --node24-bin and --node24-repo, see docs/benchmarks.md)';
  }

  for (const kind of kinds) {
    if (kind === 'postgresql') {
      const reach = await PgTarget.reachable(opts['pg-url']);
      if (!reach.ok) {
        report.results.postgresql = {
          skipped: `PostgreSQL not reachable at ${opts['pg-url'].replace(/\/\/[^@/]*@/, '//***@')}: ${reach.reason}`,
        };
        log(`PostgreSQL skipped: ${reach.reason}`);
        continue;
      }
    } else if (kind !== 'sqlite') {
      throw new Error(`unknown --db ${kind}`);
    }
    log(`\n== ${kind}`);
    report.results[kind] = await runDatabase(kind, {
      node24,
      onNode24Error: (error) => {
        report.node24_note = `Node 24 not measured: its server did not start (${error instanceof Error ? error.message.split('\n')[0] : error})`;
        log(report.node24_note);
      },
    });
    report.versions[kind] = report.results[kind].version ?? null;
  }
  report.machine.loadavg_end = os.loadavg().map((l) => round(l, 2));
  const stealEnd = cpuSteal();
  // Time the hypervisor gave to other guests while this run wanted the CPU (a VM's noise).
  report.machine.cpu_steal_pct =
    stealStart && stealEnd
      ? round(
          (100 * (stealEnd.steal - stealStart.steal)) /
            Math.max(1, stealEnd.total - stealStart.total),
          1,
        )
      : null;
  report.duration_s = round((performance.now() - t0) / 1000, 0);
  report.verdict = [];
  for (const [kind, r] of Object.entries(report.results)) {
    if (r.skipped) continue;
    for (const field of Object.keys(TARGETS)) {
      const value = r.fields[field];
      if (value === undefined) continue;
      const met =
        field === 'revocation_ms' ? r.fields.revocation_next_request : verdict(field, value);
      report.verdict.push({
        db: kind,
        scenario: TARGETS[field].scenario,
        field,
        value,
        target: targetText(field),
        met,
      });
    }
  }
  // The field names, flat, per database.
  for (const [kind, r] of Object.entries(report.results)) if (!r.skipped) report[kind] = r.fields;

  if (opts.out) writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
  if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else console.log(`\n${table(report)}`);
  if (!opts.keep) rmSync(runRoot, { recursive: true, force: true });
  else log(`kept ${runRoot}`);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
