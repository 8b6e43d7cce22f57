// G5: the gateway's metering is exact. Requests over 1,000 fresh keys with random request and
// response sizes and statuses; what keymeter stored (per-minute buckets and the key totals) is
// compared, key by key, with what the client saw. See docs/benchmarks.md.
import { upstreamStats } from '../lib/gateway.mjs';
import { blast } from '../lib/load.mjs';
import { waitForFlush } from '../lib/measure.mjs';
import { createKeys, listKeys, register } from '../lib/seed.mjs';
import { basicAuth, mapLimit, request, round } from '../lib/util.mjs';

const CONNECTIONS = 100;
/** Statuses the upstream answers with, and how often (out of 100). */
const STATUSES = [
  [200, 55],
  [201, 10],
  [302, 5],
  [400, 5],
  [404, 10],
  [429, 5],
  [500, 5],
  [503, 5],
];
const STATUS_TABLE = STATUSES.flatMap(([s, n]) => Array(n).fill(s));
const FIELDS = ['count', 'volume', 'volumeOut', 'status2xx', 'status3xx', 'status4xx', 'status5xx'];
const FILLER = 'z'.repeat(65_536);

const zero = () => Object.fromEntries(FIELDS.map((f) => [f, 0]));

/**
 * The load: request i takes key i mod n, a random body of 0..maxBody bytes (GET without a
 * body one time in ten, else POST), asks the upstream for a random answer of 0..maxOut bytes
 * with a random status (chunked one time in five), and records per key what came back.
 */
function exactLoad(keys, { maxBody, maxOut }) {
  const seen = keys.map(zero);
  const headers = keys.map((k) => ({ authorization: basicAuth(k), 'content-type': 'text/plain' }));
  const wrong = { status: 0, bytes: 0, examples: [] };
  let next = 0;
  const requests = [
    {
      method: 'POST',
      path: '/sized',
      setupRequest: (req, context) => {
        const k = next++ % keys.length;
        const get = Math.random() < 0.1;
        const size = get ? 0 : Math.floor(Math.random() * (maxBody + 1));
        const out = Math.floor(Math.random() * (maxOut + 1));
        const status = STATUS_TABLE[Math.floor(Math.random() * STATUS_TABLE.length)];
        const chunked = Math.random() < 0.2 ? '&chunked=1' : '';
        Object.assign(context, { k, size, out, status });
        return {
          ...req,
          method: get ? 'GET' : 'POST',
          path: `/sized?out=${out}&status=${status}${chunked}`,
          headers: { ...headers[k] },
          body: get ? undefined : FILLER.slice(0, size),
        };
      },
      onResponse: (status, body, context) => {
        const s = seen[context.k];
        const bytes = Buffer.byteLength(body ?? '');
        s.count++;
        s.volume += context.size;
        s.volumeOut += bytes;
        const cls = Math.floor(status / 100);
        if (cls >= 2 && cls <= 5) s[`status${cls}xx`]++;
        // What the gateway itself must not change: the upstream's status and body.
        if (status !== context.status || bytes !== context.out) {
          if (status !== context.status) wrong.status++;
          if (bytes !== context.out) wrong.bytes++;
          if (wrong.examples.length < 5)
            wrong.examples.push({
              asked: { status: context.status, out: context.out },
              got: { status, bytes },
            });
        }
      },
    },
  ];
  return { seen, requests, wrong };
}

/** The key's per-minute buckets over [from, to], summed. */
async function storedBuckets(server, master, key, from, to) {
  const res = await request(
    server.port,
    'GET',
    `/1.0/keys/${key}?interval=minute&include=traffic&from=${from}&to=${to}`,
    { headers: { authorization: basicAuth(master) } },
  );
  if (res.status !== 200)
    throw new Error(`usage of a key: ${res.status} ${res.text().slice(0, 200)}`);
  const sum = zero();
  let refused = 0;
  for (const b of res.json().results) {
    for (const f of FIELDS) sum[f] += b[f] ?? 0;
    refused += b.refused ?? 0;
  }
  return { sum, refused, hasTraffic: res.json().results.some((b) => 'volumeOut' in b) };
}

async function run(ctx) {
  const { S, P } = ctx;
  const g = ctx.gateway;
  if (!g?.server) throw g?.error ?? new Error('no gateway instance');
  const G = g.server;
  const size = P.gateway;
  const t0 = performance.now();
  const account = await register(S, 'g5');
  const keys = await createKeys(
    S,
    account.master,
    Array.from({ length: size.keys }, (_, i) => `g5-${i}`),
  );
  const ids = new Map((await listKeys(S, account.master)).map((k) => [k.key, k.id]));
  const seedS = (performance.now() - t0) / 1000;
  await upstreamStats(g.upstream, { reset: true });
  const from = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000).toISOString();
  const load = exactLoad(keys, size);
  const r = await blast({
    port: G.gatewayPort,
    connections: CONNECTIONS,
    amount: size.requests,
    requests: load.requests,
  });
  await waitForFlush(G);
  const to = new Date(Date.now() + 60_000).toISOString();
  const up = await upstreamStats(g.upstream);
  const totals = new Map((await listKeys(S, account.master)).map((k) => [k.key, k]));
  const buckets = await mapLimit(keys, 16, (key) =>
    storedBuckets(S, account.master, key, from, to),
  );

  let lost = 0;
  let doubled = 0;
  let mismatched = 0;
  let upstreamMismatched = 0;
  let refused = 0;
  const byField = Object.fromEntries(
    FIELDS.map((f) => [f, { client: 0, buckets: 0, keysDiffering: 0 }]),
  );
  const totalsDiffering = { count: 0, volume: 0, volumeOut: 0 };
  const examples = [];
  keys.forEach((key, i) => {
    const seen = load.seen[i];
    const b = buckets[i].sum;
    const t = totals.get(key);
    const tot = { count: t?.usageCount, volume: t?.volume, volumeOut: t?.volumeOut };
    refused += buckets[i].refused;
    lost += Math.max(0, seen.count - b.count);
    doubled += Math.max(0, b.count - seen.count);
    let differs = false;
    for (const f of FIELDS) {
      byField[f].client += seen[f];
      byField[f].buckets += b[f];
      if (b[f] !== seen[f]) {
        byField[f].keysDiffering++;
        differs = true;
      }
    }
    for (const f of Object.keys(totalsDiffering)) {
      if (tot[f] !== seen[f]) {
        totalsDiffering[f]++;
        differs = true;
      }
    }
    if (differs) {
      mismatched++;
      if (examples.length < 5)
        examples.push({ key: ids.get(key), client: seen, buckets: b, totals: tot });
    }
    const u = up.byKeyId[ids.get(key)] ?? { requests: 0, bytesIn: 0 };
    if (u.requests !== seen.count || u.bytesIn !== seen.volume) upstreamMismatched++;
  });
  for (const f of FIELDS) byField[f].lost = byField[f].client - byField[f].buckets;
  return {
    fields: { gateway_lost: lost, gateway_mismatched: mismatched },
    details: {
      requests: size.requests,
      keys: size.keys,
      connections: CONNECTIONS,
      body_bytes: `0..${size.maxBody} (GET without a body 1 in 10)`,
      answer_bytes: `0..${size.maxOut} (chunked 1 in 5)`,
      statuses: Object.fromEntries(STATUSES),
      rps: round(r.rps, 0),
      load_s: round(r.duration_s, 1),
      seed_s: round(seedS, 1),
      client_errors: r.errors + r.timeouts,
      codes: r.codes,
      double_counted: doubled,
      // per field, over all keys: what the client saw, what the buckets hold, keys that differ
      by_field: byField,
      keys_whose_totals_differ: totalsDiffering,
      buckets_had_traffic_fields: buckets.every((b) => b.hasTraffic),
      refused_in_buckets: refused,
      examples,
      // the gateway's own changes to what it forwarded: none expected
      answers_changed: load.wrong,
      upstream: {
        requests: up.requests,
        bytes_in: up.bytesIn,
        keys_whose_requests_or_bytes_differ: upstreamMismatched,
        requests_that_still_carried_a_key_header: up.keyHeadersSeen,
      },
    },
  };
}

export default {
  id: 'G5',
  title: 'gateway metering is exact',
  targets: {
    gateway_lost: { op: '==', value: 0 },
    gateway_mismatched: { op: '==', value: 0 },
  },
  needs: () => ['gateway'],
  run,
};
