// Small helpers shared by the benchmark: statistics, timing, a keep-alive HTTP client, logging.
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

let quiet = false;
/** Progress goes to stderr, so that `--json` leaves stdout with the JSON object alone. */
export function setQuiet(value) {
  quiet = value;
}
export function log(...parts) {
  if (!quiet) process.stderr.write(`${parts.join(' ')}\n`);
}

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nearest-rank percentile (p in 0..100) of the finite values. */
export function percentile(values, p) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export function round(value, digits = 2) {
  if (value === null || value === undefined || !Number.isFinite(value)) return value ?? null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function nowMs() {
  return performance.timeOrigin + performance.now();
}

/** A TCP port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * One HTTP request to 127.0.0.1:port. Resolves with status, headers, the whole body and the
 * time from sending to the last byte (ms). Never rejects on HTTP errors; rejects on socket ones.
 */
export async function request(port, method, path, options = {}) {
  try {
    return await requestOnce(port, method, path, options);
  } catch (error) {
    // A kept-alive socket the server closed while it sat idle (its keep-alive timeout is 5 s,
    // and a long seeding can keep the benchmark busy longer): the request never reached the
    // server, so sending it again on a fresh socket is safe. Node's documented pattern. A new
    // connection, not the agent's next idle socket: that one sat idle as long, and is as stale.
    if (!error.reusedSocket || error.code !== 'ECONNRESET') throw error;
    return requestOnce(port, method, path, { ...options, agent: false });
  }
}

function requestOnce(
  port,
  method,
  path,
  { headers = {}, body, timeoutMs = 60_000, agent: via = agent } = {},
) {
  return new Promise((resolve, reject) => {
    const payload =
      body === undefined
        ? undefined
        : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const started = performance.now();
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: via,
        headers: {
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': payload.length }
            : {}),
          ...headers,
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const buffer = Buffer.concat(chunks);
          resolve({
            status: res.statusCode,
            headers: res.headers,
            buffer,
            text: () => buffer.toString('utf8'),
            json: () => JSON.parse(buffer.toString('utf8')),
            ms: performance.now() - started,
            startedAt: performance.timeOrigin + started,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
    if (payload) req.write(payload);
    req.end();
  });
}

/** Runs `task` over `items` with at most `limit` at a time; results in input order. */
export async function mapLimit(items, limit, task) {
  const results = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i], i);
    }
  });
  await Promise.all(workers);
  return results;
}

export function basicAuth(key) {
  return `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
}
