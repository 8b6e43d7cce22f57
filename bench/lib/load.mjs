// Load generation with autocannon, in process.
import { createRequire } from 'node:module';
import { basicAuth } from './util.mjs';

const require = createRequire(import.meta.url);
const autocannon = require('autocannon');

/**
 * Runs autocannon against 127.0.0.1:port and summarises it.
 * Either `duration` (s) or `amount` (requests). `requests` (autocannon's dynamic requests) may
 * replace method/path/headers/body.
 */
export function blast({
  port,
  path = '/',
  method = 'GET',
  headers = {},
  body,
  connections = 50,
  duration,
  amount,
  requests,
  onStart,
  overallRate,
  workers,
}) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}${path}`,
        method,
        headers,
        body,
        connections,
        pipelining: 1,
        timeout: 30,
        ...(amount ? { amount } : { duration }),
        // autocannon acts on its stop flag at each sample tick: 100 ms keeps a 1.25-second run
        // from running 2 seconds.
        sampleInt: 100,
        ...(requests ? { requests } : {}),
        ...(overallRate ? { overallRate } : {}),
        // In a worker thread: its latencies are not delayed by other loads this process runs.
        ...(workers ? { workers } : {}),
      },
      (error, result) => {
        if (error) return reject(error);
        const total = result.requests.total;
        const codes = {};
        for (const [code, stat] of Object.entries(result.statusCodeStats ?? {}))
          codes[code] = stat.count;
        resolve({
          rps: total / result.duration,
          total,
          duration_s: result.duration,
          p50_ms: result.latency.p50,
          p99_ms: result.latency.p99,
          max_ms: result.latency.max,
          ok: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          codes,
        });
      },
    );
    if (onStart) onStart(instance);
  });
}

const FILLER = 'x'.repeat(4096);

/**
 * A load over many keys that remembers, per key, what the server acknowledged (2xx) and with
 * what body bytes: the ground truth that the database is compared with. Each request takes the
 * next key (round robin) and a random JSON body of 8..maxBody bytes.
 */
export class TrackedLoad {
  constructor(keys, { maxBody = 2048, binMs = 10 } = {}) {
    this.keys = keys;
    this.headers = keys.map((k) => ({
      authorization: basicAuth(k),
      'content-type': 'application/json',
    }));
    this.ok = new Float64Array(keys.length);
    this.volume = new Float64Array(keys.length);
    this.other = {};
    this.next = 0;
    this.maxBody = maxBody;
    this.binMs = binMs;
    /** 2xx responses per binMs since t0: when the server acknowledged what. */
    this.timeline = [];
    this.t0 = performance.now();
  }

  requests(path) {
    const maxFiller = this.maxBody - 8;
    return [
      {
        method: 'POST',
        path,
        setupRequest: (req, context) => {
          const k = this.next++ % this.keys.length;
          const filler = Math.floor(Math.random() * (maxFiller + 1));
          const body = `{"p":"${FILLER.slice(0, filler)}"}`;
          context.k = k;
          context.bytes = body.length;
          return { ...req, headers: { ...this.headers[k] }, body };
        },
        onResponse: (status, _body, context) => {
          if (status >= 200 && status < 300) {
            this.ok[context.k]++;
            this.volume[context.k] += context.bytes;
            const bin = Math.floor((performance.now() - this.t0) / this.binMs);
            this.timeline[bin] = (this.timeline[bin] ?? 0) + 1;
          } else {
            this.other[status] = (this.other[status] ?? 0) + 1;
          }
        },
      },
    ];
  }

  get totalOk() {
    let n = 0;
    for (const v of this.ok) n += v;
    return n;
  }

  get totalVolume() {
    let n = 0;
    for (const v of this.volume) n += v;
    return n;
  }

  /** ms since t0 (performance clock) */
  elapsed() {
    return performance.now() - this.t0;
  }

  /**
   * How much traffic `lostRequests` is, as time: the span of the acknowledged responses just
   * before `atMs`(since t0) that adds up to that many requests.
   */
  lossAsTime(lostRequests, atMs) {
    if (lostRequests <= 0) return 0;
    let remaining = lostRequests;
    for (let bin = Math.floor(atMs / this.binMs); bin >= 0; bin--) {
      remaining -= this.timeline[bin] ?? 0;
      if (remaining <= 0) return atMs - bin * this.binMs;
    }
    return atMs;
  }
}

/**
 * GET `path` with the next Authorization header of `pool` on every request (round robin), so
 * that variants with one key and with many keys cost the client the same.
 */
export function rotatingRequests(path, pool) {
  let next = 0;
  return [
    {
      method: 'GET',
      path,
      setupRequest: (req) => ({ ...req, headers: { authorization: pool[next++ % pool.length] } }),
    },
  ];
}
