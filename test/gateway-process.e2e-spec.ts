import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { providers } from './helpers/app';
import { basic } from './helpers/factory';
import { createDatabase, dropDatabase } from './helpers/postgres';
import { freePort, ServerProcess, startServer } from './helpers/process';
import { patternChunk, startUpstream, Upstream } from './helpers/upstream';

/*
 * Gateway mode as it runs in production: keymeter is a real `node dist/main.js` child process
 * (run `npm run build` first), in front of a real node:http upstream in this process. What these
 * tests add to gateway.e2e-spec.ts: SIGTERM under proxied load, two instances on one PostgreSQL,
 * the streaming memory bound of a 256 MiB body each way, and 10,000 client aborts.
 */

interface Gateway {
  server: ServerProcess;
  /** The gateway's own port (GATEWAY_PORT). */
  port: number;
}

interface GatewayOptions {
  dataDir: string;
  secret: string;
  upstream: Upstream;
  databaseUrl?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
}

async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const port = await freePort();
  const server = await startServer({
    dataDir: options.dataDir,
    secret: options.secret,
    databaseUrl: options.databaseUrl,
    env: {
      GATEWAY_UPSTREAM: options.upstream.url,
      GATEWAY_PORT: String(port),
      GATEWAY_TIMEOUT_MS: String(options.timeoutMs ?? 10_000),
      ...options.env,
    },
  });
  return { server, port };
}

interface Key {
  id: string;
  key: string;
}

/** Registers an account on `apiUrl`; returns its master key's Basic header. */
async function register(apiUrl: string): Promise<string> {
  const res = await fetch(`${apiUrl}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      email: `gw-${randomBytes(6).toString('hex')}@example.com`,
      password: 'long enough password',
    }),
  });
  expect(res.status).toBe(201);
  const { data } = (await res.json()) as { data: { apiKey: string } };
  return basic(data.apiKey);
}

async function createKeys(apiUrl: string, master: string, count: number): Promise<Key[]> {
  const created: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${apiUrl}/1.0/keys`, {
      method: 'POST',
      headers: { Authorization: master, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: `gateway client ${i}` }),
    });
    expect(res.status).toBe(200);
    created.push(((await res.json()) as { key: string }).key);
  }
  const listed = await listKeys(apiUrl, master);
  return created.map((key) => ({ key, id: listed.find((k) => k.key === key)!.id }));
}

interface ListedKey {
  id: string;
  key: string;
  usageCount: number;
  volume: number;
  volumeOut: number;
}

async function listKeys(apiUrl: string, master: string): Promise<ListedKey[]> {
  const res = await fetch(`${apiUrl}/1.0/keys`, { headers: { Authorization: master } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { keys: ListedKey[] }).keys;
}

interface Stored {
  usageCount: number;
  volume: number;
  volumeOut: number;
  /** From the day buckets of ?include=traffic. */
  count: number;
  status2xx: number;
  status3xx: number;
  status4xx: number;
  status5xx: number;
}

/** A key's totals (GET /1.0/keys) and status classes (its day buckets, include=traffic). */
async function stored(apiUrl: string, master: string, key: Key): Promise<Stored> {
  const listed = (await listKeys(apiUrl, master)).find((k) => k.id === key.id)!;
  const res = await fetch(`${apiUrl}/1.0/keys/${key.id}?include=traffic&interval=day`, {
    headers: { Authorization: master },
  });
  expect(res.status).toBe(200);
  const { results } = (await res.json()) as { results: Record<string, number>[] };
  const sum = (field: string) => results.reduce((n, b) => n + b[field], 0);
  return {
    usageCount: listed.usageCount,
    volume: listed.volume,
    volumeOut: listed.volumeOut,
    count: sum('count'),
    status2xx: sum('status2xx'),
    status3xx: sum('status3xx'),
    status4xx: sum('status4xx'),
    status5xx: sum('status5xx'),
  };
}

/** A small seeded PRNG (mulberry32): the same plan on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One planned request: what is sent, and what the upstream answers to it. */
interface Planned {
  id: number;
  key: Key;
  path: string;
  bodyBytes: number;
  status: number;
  responseBytes: number;
}

const STATUSES = [200, 201, 204, 302, 404, 429, 500, 503];
const BODY = randomBytes(16 * 1024);

/** `total` POSTs with random bodies (0..16 KiB) to /fixed/N (0..32 KiB) or /status/S. */
function plan(total: number, keys: Key[], seed: number): Planned[] {
  const random = prng(seed);
  return Array.from({ length: total }, (_, id) => {
    const key = keys[id % keys.length];
    const bodyBytes = Math.floor(random() * (BODY.length + 1));
    if (random() < 0.6) {
      const n = Math.floor(random() * 32 * 1024);
      return { id, key, path: `/fixed/${n}?id=${id}`, bodyBytes, status: 200, responseBytes: n };
    }
    const status = STATUSES[Math.floor(random() * STATUSES.length)];
    const responseBytes = status === 204 ? 0 : Buffer.byteLength(`status ${status}`);
    return { id, key, path: `/status/${status}?id=${id}`, bodyBytes, status, responseBytes };
  });
}

interface Outcome {
  status: number;
  bytes: number;
  /** The whole response arrived (res.complete). */
  complete: boolean;
}

/** One request through `agent`; rejects if no response came, resolves once it has ended. */
function send(port: number, agent: http.Agent, planned: Planned): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        agent,
        method: 'POST',
        path: planned.path,
        headers: {
          'x-api-key': planned.key.key,
          'Content-Type': 'application/octet-stream',
          'Content-Length': planned.bodyBytes,
        },
      },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('error', () => undefined);
        res.on('close', () => {
          settled = true;
          resolve({ status: res.statusCode ?? 0, bytes, complete: res.complete });
        });
      },
    );
    req.on('error', (error) => {
      if (!settled) {
        settled = true;
        reject(error);
      }
    });
    req.end(BODY.subarray(0, planned.bodyBytes));
  });
}

interface Expected {
  count: number;
  volume: number;
  volumeOut: number;
  status2xx: number;
  status3xx: number;
  status4xx: number;
  status5xx: number;
}

/** What the key's totals must be after these answered requests. */
function expectedFor(answered: { planned: Planned; outcome: Outcome }[]): Expected {
  const e: Expected = {
    count: 0,
    volume: 0,
    volumeOut: 0,
    status2xx: 0,
    status3xx: 0,
    status4xx: 0,
    status5xx: 0,
  };
  for (const { planned, outcome } of answered) {
    e.count++;
    e.volume += planned.bodyBytes;
    e.volumeOut += outcome.bytes;
    const field = `status${Math.floor(outcome.status / 100)}xx` as keyof Expected;
    e[field]++;
  }
  return e;
}

const storedAsExpected = (s: Stored): Expected => ({
  count: s.usageCount,
  volume: s.volume,
  volumeOut: s.volumeOut,
  status2xx: s.status2xx,
  status3xx: s.status3xx,
  status4xx: s.status4xx,
  status5xx: s.status5xx,
});

/** The request ids the upstream has seen (the `id=` or `a=` of each URL), with their bodies. */
function seenIds(upstream: Upstream, param: string): Map<number, number> {
  const ids = new Map<number, number>();
  for (const seen of upstream.seen) {
    const value = new URL(seen.url, 'http://upstream').searchParams.get(param);
    if (value !== null) ids.set(Number(value), seen.bodyBytes);
  }
  return ids;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function eventually<T>(
  what: string,
  read: () => T | Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(value)})`);
    }
    await sleep(50);
  }
}

/** VmRSS of a process, in bytes (Linux /proc). */
function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

const fdsOf = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** Numbers from keymeter's /metrics (prom-client's default process metrics). */
interface ProcessMetrics {
  handles: number;
  resources: number;
  heapUsed: number;
}

async function processMetrics(apiUrl: string, master: string): Promise<ProcessMetrics> {
  const res = await fetch(`${apiUrl}/metrics`, { headers: { Authorization: master } });
  expect(res.status).toBe(200);
  const text = await res.text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  return {
    handles: value('keymeter_nodejs_active_handles_total'),
    resources: value('keymeter_nodejs_active_resources_total'),
    heapUsed: value('keymeter_nodejs_heap_size_used_bytes'),
  };
}

/** The measured figures, printed with KEYMETER_TEST_FIGURES=1 (quiet in the suite). */
function figures(line: string): void {
  if (process.env.KEYMETER_TEST_FIGURES === '1') console.warn(line);
}

const MiB = 1024 * 1024;
const procfs = existsSync('/proc/self/status');

describe('gateway mode as a real process [sqlite]', () => {
  let upstream: Upstream;
  const dirs: string[] = [];
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
  });

  afterAll(async () => {
    for (const server of servers) await server.stop();
    await upstream?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  function dataDir(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'keymeter-gw-proc-'));
    dirs.push(dir);
    return dir;
  }

  async function start(options: Omit<GatewayOptions, 'upstream'>): Promise<Gateway> {
    const gateway = await startGateway({ ...options, upstream });
    servers.push(gateway.server);
    return gateway;
  }

  it('SIGTERM under proxied load: every exchange that reached the upstream is answered and stored exactly', async () => {
    const dir = dataDir();
    const secret = randomBytes(32).toString('hex');
    const gateway = await start({ dataDir: dir, secret });
    const master = await register(gateway.server.url);
    const keys = await createKeys(gateway.server.url, master, 4);
    const TOTAL = 3000;
    const KILL_AFTER = 1200;
    const planned = plan(TOTAL, keys, 11);
    const agents = Array.from(
      { length: 4 },
      () => new http.Agent({ keepAlive: true, maxSockets: 4 }),
    );
    const answered = new Map<number, Outcome>();
    const cut: { id: number; error: string; afterKill: boolean }[] = [];
    let next = 0;
    let started = 0;
    // In an object: TypeScript would keep a `let` narrowed to its initial null.
    const state: { killed: { answered: number; inFlight: number; at: number } | null } = {
      killed: null,
    };
    const worker = async (w: number) => {
      while (next < TOTAL) {
        const request = planned[next++];
        started++;
        try {
          const outcome = await send(gateway.port, agents[w % agents.length], request);
          if (outcome.complete) answered.set(request.id, outcome);
          else
            cut.push({ id: request.id, error: 'body cut off', afterKill: state.killed !== null });
        } catch (error) {
          cut.push({ id: request.id, error: String(error), afterKill: state.killed !== null });
          if (state.killed) return; // the server is going away: this client stops
        }
        if (!state.killed && answered.size >= KILL_AFTER) {
          state.killed = {
            answered: answered.size,
            inFlight: started - answered.size,
            at: Date.now(),
          };
          gateway.server.kill('SIGTERM');
        }
      }
    };
    const loadStarted = Date.now();
    await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
    const exit = await gateway.server.waitForExit(30_000);
    const killed = state.killed!;
    const stoppedMs = Date.now() - killed.at;
    for (const agent of agents) agent.destroy();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(gateway.server.stderr()).not.toMatch(/unwritten|could not write/);

    // The SIGTERM came in the middle: some requests were answered after it, some never sent.
    expect(answered.size).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(answered.size).toBeLessThan(TOTAL);
    // Nothing failed before the SIGTERM, and no answer was cut off mid-body by it.
    expect(cut.filter((c) => !c.afterKill)).toEqual([]);
    expect(cut.filter((c) => c.error === 'body cut off')).toEqual([]);
    // Each answer is the upstream's, whole.
    for (const [id, outcome] of answered) {
      expect({ id, status: outcome.status, bytes: outcome.bytes }).toEqual({
        id,
        status: planned[id].status,
        bytes: planned[id].responseBytes,
      });
    }
    // Ground truth: the requests the upstream saw (with their whole body) are exactly the ones
    // the clients got an answer to. The shutdown drained every exchange it had admitted; what
    // it refused (connection errors) never reached the upstream.
    const seen = seenIds(upstream, 'id');
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(
      [...answered.keys()].sort((a, b) => a - b),
    );
    for (const [id, bodyBytes] of seen) expect(bodyBytes).toBe(planned[id].bodyBytes);

    // Restarted on the same database: every answered exchange was written by the last flush.
    const again = await start({ dataDir: dir, secret });
    for (const key of keys) {
      const mine = [...answered]
        .filter(([id]) => planned[id].key === key)
        .map(([id, outcome]) => ({ planned: planned[id], outcome }));
      const totals = await stored(again.server.url, master, key);
      const expected = expectedFor(mine);
      // Between answered and answered + cut off; with nothing cut off that reached the
      // upstream (above), exactly the answered ones, bytes and status classes included.
      expect(totals.usageCount).toBeGreaterThanOrEqual(expected.count);
      expect(totals.usageCount).toBeLessThanOrEqual(expected.count + cut.length);
      expect(storedAsExpected(totals)).toEqual(expected);
      expect(totals.count).toBe(totals.usageCount);
    }
    again.server.kill('SIGTERM');
    expect(await again.server.waitForExit(20_000)).toEqual({ code: 0, signal: null });
    figures(
      `SIGTERM after ${killed.at - loadStarted} ms of load: ${answered.size} of ${TOTAL} ` +
        `answered, ${killed.inFlight} in flight at the SIGTERM, ` +
        `${answered.size - killed.answered} answered after it, ${cut.length} refused by the ` +
        `closing server (never reached the upstream); exit 0 ${stoppedMs} ms after the SIGTERM`,
    );
  }, 90_000);

  (procfs ? it : it.skip)(
    'streams a 256 MiB upload and a 256 MiB download within 64 MB of idle RSS, intact and metered',
    async () => {
      const gateway = await start({ dataDir: dataDir(), secret: randomBytes(32).toString('hex') });
      const pid = gateway.server.child.pid!;
      const master = await register(gateway.server.url);
      const [upKey, downKey, warmKey] = await createKeys(gateway.server.url, master, 3);
      const SIZE = 256 * MiB;
      const CHUNK = 64 * 1024;
      // patternChunk(offset, n) is pattern.subarray(offset % 251, …): built once, for speed.
      const pattern = patternChunk(0, CHUNK + 251);
      const expectedAt = (offset: number, n: number) =>
        pattern.subarray(offset % 251, (offset % 251) + n);

      const upload = async (key: Key, size: number) => {
        const hash = createHash('sha256');
        let sent = 0;
        function* body(): Generator<Buffer> {
          while (sent < size) {
            const chunk = expectedAt(sent, Math.min(CHUNK, size - sent));
            hash.update(chunk);
            sent += chunk.length;
            yield chunk;
          }
        }
        const req = http.request({
          host: '127.0.0.1',
          port: gateway.port,
          method: 'POST',
          path: '/sink',
          agent: false,
          headers: { 'x-api-key': key.key, 'Content-Type': 'application/octet-stream' },
        });
        const answer = new Promise<string>((resolve, reject) => {
          req.on('response', (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (c: string) => (text += c));
            res.on('end', () => resolve(text));
            res.on('error', reject);
          });
          req.on('error', reject);
        });
        await pipeline(Readable.from(body(), { objectMode: false }), req);
        return { answer: await answer, sent, sha256: hash.digest('hex') };
      };

      const download = (key: Key, size: number) =>
        new Promise<{ status: number; bytes: number; intact: boolean }>((resolve, reject) => {
          const req = http.get(
            {
              host: '127.0.0.1',
              port: gateway.port,
              path: `/bytes/${size}`,
              agent: false,
              headers: { 'x-api-key': key.key },
            },
            (res) => {
              let bytes = 0;
              let intact = true;
              res.on('data', (chunk: Buffer) => {
                for (let at = 0; at < chunk.length && intact; at += CHUNK) {
                  const part = chunk.subarray(at, at + CHUNK);
                  intact = part.equals(expectedAt(bytes + at, part.length));
                }
                bytes += chunk.length;
              });
              res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, intact }));
              res.on('error', reject);
            },
          );
          req.on('error', reject);
        });

      // Warm-up (code paths, pools, buffers), then the idle figure.
      for (let i = 0; i < 3; i++) {
        await upload(warmKey, 8 * MiB);
        await download(warmKey, 8 * MiB);
      }
      await sleep(500);
      const idleSamples: number[] = [];
      for (let i = 0; i < 5; i++) {
        idleSamples.push(rssOf(pid));
        await sleep(50);
      }
      const idle = Math.max(...idleSamples);

      let peak = idle;
      const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
      const began = Date.now();
      let up: Awaited<ReturnType<typeof upload>>;
      let down: Awaited<ReturnType<typeof download>>;
      try {
        // Both ways at once: the bound holds for the sum.
        [up, down] = await Promise.all([upload(upKey, SIZE), download(downKey, SIZE)]);
      } finally {
        clearInterval(sampler);
      }
      const tookMs = Date.now() - began;
      peak = Math.max(peak, rssOf(pid));

      expect(up.sent).toBe(SIZE);
      expect(up.answer).toBe(String(SIZE));
      const sunk = upstream.seen.filter((s) => s.url === '/sink' && s.bodyBytes === SIZE);
      expect(sunk.map((s) => s.bodySha256)).toEqual([up.sha256]);
      expect(down).toEqual({ status: 200, bytes: SIZE, intact: true });
      const growthMb = (peak - idle) / MiB;
      expect(growthMb).toBeLessThanOrEqual(64);

      // Metered as they ended: reads add what is not flushed yet.
      const upTotals = await eventually(
        'the upload to be metered',
        () => stored(gateway.server.url, master, upKey),
        (s) => s.usageCount === 1,
      );
      expect(upTotals).toMatchObject({
        usageCount: 1,
        volume: SIZE,
        volumeOut: String(SIZE).length,
        status2xx: 1,
      });
      const downTotals = await eventually(
        'the download to be metered',
        () => stored(gateway.server.url, master, downKey),
        (s) => s.usageCount === 1,
      );
      expect(downTotals).toMatchObject({ usageCount: 1, volume: 0, volumeOut: SIZE, status2xx: 1 });
      gateway.server.kill('SIGTERM');
      expect(await gateway.server.waitForExit(20_000)).toEqual({ code: 0, signal: null });
      figures(
        `streaming 256 MiB each way at once in ${tookMs} ms: RSS idle ${(idle / MiB).toFixed(1)} MB, ` +
          `peak ${(peak / MiB).toFixed(1)} MB, growth ${growthMb.toFixed(1)} MB (bound 64)`,
      );
    },
    90_000,
  );

  (procfs ? it : it.skip)(
    '10,000 client aborts (before the upstream answers, and mid-download) leak no socket, handle or memory, and are all metered',
    async () => {
      const dir = dataDir();
      const secret = randomBytes(32).toString('hex');
      // The heap is compared after a full GC: a preload (test-only, outside keymeter) makes the
      // child run gc() on SIGUSR2 and then write how many times it has, to `marker`.
      const preload = path.join(dir, 'gc-on-sigusr2.js');
      const marker = path.join(dir, 'gc-runs');
      writeFileSync(
        preload,
        `let runs = 0;\nprocess.on('SIGUSR2', () => {\n  globalThis.gc();\n` +
          `  require('node:fs').writeFileSync(${JSON.stringify(marker)}, String(++runs));\n});\n`,
      );
      // Timeout 20 s: an upstream request the abort did not end would hold its socket that long.
      const gateway = await start({
        dataDir: dir,
        secret,
        timeoutMs: 20_000,
        env: { NODE_OPTIONS: `--expose-gc --require ${preload}` },
      });
      const pid = gateway.server.child.pid!;
      const master = await register(gateway.server.url);
      const [key] = await createKeys(gateway.server.url, master, 1);
      const ABORTS = 10_000;
      const PARALLEL = 50;

      // Resolves each waiter once the upstream has the request `a=<n>` (polling its record).
      const arrivals = new Map<number, () => void>();
      let cursor = 0;
      const watcher = setInterval(() => {
        for (; cursor < upstream.seen.length; cursor++) {
          const a = new URL(upstream.seen[cursor].url, 'http://u').searchParams.get('a');
          if (a !== null) arrivals.get(Number(a))?.();
        }
      }, 2);

      /**
       * Even n: /hang, aborted once the upstream has it (it never answers: only the abort ends
       * it before the 20 s timeout). Odd n: a 256 KiB download aborted at its first bytes (the
       * upstream lives in this process and writes its body as fast as the kernel takes it, so
       * a bigger one costs this process, not the gateway, the time).
       */
      const abort = (n: number) =>
        new Promise<void>((resolve) => {
          const hang = n % 2 === 0;
          const req = http.request({
            host: '127.0.0.1',
            port: gateway.port,
            path: hang ? `/hang?a=${n}` : `/bytes/262144?a=${n}`,
            agent: false,
            headers: { 'x-api-key': key.key },
          });
          if (hang) arrivals.set(n, () => req.destroy());
          else req.on('response', (res) => res.once('data', () => req.destroy()));
          req.on('error', () => undefined);
          req.on('close', () => {
            arrivals.delete(n);
            resolve();
          });
          req.end();
        });
      const run = async (from: number, count: number) => {
        let next = from;
        await Promise.all(
          Array.from({ length: PARALLEL }, async () => {
            while (next < from + count) await abort(next++);
          }),
        );
      };
      const settle = async () => {
        // Idle: nothing in flight in the gateway (all counted), the upstream's sockets closed.
        await eventually(
          'the upstream sockets to close',
          () => upstream.openSockets(),
          (n) => n <= 64,
        );
        await sleep(500);
        const runs = existsSync(marker) ? Number(readFileSync(marker, 'utf8')) : 0;
        gateway.server.kill('SIGUSR2');
        await eventually(
          'the child to collect garbage',
          () => (existsSync(marker) ? Number(readFileSync(marker, 'utf8')) : 0),
          (n) => n > runs,
        );
        return {
          fds: fdsOf(pid),
          rss: rssOf(pid),
          upstreamSockets: upstream.openSockets(),
          ...(await processMetrics(gateway.server.url, master)),
        };
      };

      try {
        const WARM = 500;
        await run(0, WARM);
        await eventually(
          'the warm-up to be metered',
          () => stored(gateway.server.url, master, key),
          (s) => s.usageCount === WARM,
        );
        const before = await settle();

        const began = Date.now();
        await run(WARM, ABORTS);
        const tookMs = Date.now() - began;

        // Every exchange ended (each one is counted when its client side closes, the same event
        // that takes it out of the gateway's in-flight count): all 10,000 are metered, the
        // downloads with the 200 they had started, the /hang ones with no status at all.
        const totals = await eventually(
          'all the aborts to be metered',
          () => stored(gateway.server.url, master, key),
          (s) => s.usageCount === WARM + ABORTS,
        );
        expect(totals).toMatchObject({
          usageCount: WARM + ABORTS,
          count: WARM + ABORTS,
          volume: 0,
          status2xx: (WARM + ABORTS) / 2,
          status3xx: 0,
          status4xx: 0,
          status5xx: 0,
        });
        // Each of them reached the upstream before it was aborted.
        const seen = seenIds(upstream, 'a');
        const missing = Array.from({ length: WARM + ABORTS }, (_, n) => n).filter(
          (n) => !seen.has(n),
        );
        expect(missing).toEqual([]);

        const after = await settle();
        // The upstream's sockets of aborted exchanges were closed (the pool keeps at most 64).
        expect(after.upstreamSockets).toBeLessThanOrEqual(64);
        // No file descriptor, handle or timer left behind per abort (a few of slack for the
        // database and the scrape's own socket). The gateway's idle pooled sockets to the
        // upstream (one fd each, counted on the upstream's side) come and go with keep-alive.
        expect(after.fds - after.upstreamSockets).toBeLessThanOrEqual(
          before.fds - before.upstreamSockets + 5,
        );
        expect(after.handles).toBeLessThanOrEqual(before.handles + 5);
        expect(after.resources).toBeLessThanOrEqual(before.resources + 5);
        // Memory: 10,000 leaked exchanges (request, response, sockets, buffers: several KB each)
        // would be tens of MB on the heap after a full GC.
        expect((after.heapUsed - before.heapUsed) / MiB).toBeLessThanOrEqual(8);
        expect((after.rss - before.rss) / MiB).toBeLessThanOrEqual(64);

        // A clean stop has nothing to wait for (a stuck exchange would hold it 20 s) and writes
        // all of it: 10,000 + the warm-up stored.
        const stopAt = Date.now();
        gateway.server.kill('SIGTERM');
        expect(await gateway.server.waitForExit(15_000)).toEqual({ code: 0, signal: null });
        const stopMs = Date.now() - stopAt;
        const again = await start({ dataDir: dir, secret });
        expect((await stored(again.server.url, master, key)).usageCount).toBe(WARM + ABORTS);
        again.server.kill('SIGTERM');
        await again.server.waitForExit(20_000);
        figures(
          `${ABORTS} aborts in ${tookMs} ms (${PARALLEL} at a time); ` +
            `fds ${before.fds} → ${after.fds}, handles ${before.handles} → ${after.handles}, ` +
            `resources ${before.resources} → ${after.resources}, ` +
            `RSS ${(before.rss / MiB).toFixed(1)} → ${(after.rss / MiB).toFixed(1)} MB, ` +
            `heap used after GC ${(before.heapUsed / MiB).toFixed(1)} → ${(after.heapUsed / MiB).toFixed(1)} MB, ` +
            `upstream sockets ${before.upstreamSockets} → ${after.upstreamSockets}; ` +
            `SIGTERM exit in ${stopMs} ms`,
        );
      } finally {
        clearInterval(watcher);
      }
    },
    150_000,
  );
});

if (providers().includes('postgresql')) {
  describe('gateway mode, two instances on one PostgreSQL [postgresql]', () => {
    it('both proxy the same keys at once; what is stored is exactly what the clients saw', async () => {
      const upstream = await startUpstream();
      const databaseUrl = await createDatabase();
      const secret = randomBytes(32).toString('hex');
      const dirs = [0, 1, 2].map(() => mkdtempSync(path.join(tmpdir(), 'keymeter-gw-pg-')));
      const servers: ServerProcess[] = [];
      try {
        // One after the other: the first one migrates the database.
        const a = await startGateway({ dataDir: dirs[0], secret, upstream, databaseUrl });
        servers.push(a.server);
        const b = await startGateway({ dataDir: dirs[1], secret, upstream, databaseUrl });
        servers.push(b.server);
        const master = await register(a.server.url);
        const keys = await createKeys(a.server.url, master, 4);
        const TOTAL = 2000;
        const planned = plan(TOTAL, keys, 22);
        const instances = [a, b];
        const agents = instances.map(() => [0, 1].map(() => new http.Agent({ keepAlive: true })));
        const answered: { planned: Planned; outcome: Outcome }[] = [];
        let next = 0;
        const began = Date.now();
        await Promise.all(
          Array.from({ length: 16 }, async (_, w) => {
            while (next < TOTAL) {
              const request = planned[next++];
              // Every key is used on both instances, by both of each instance's agents.
              const on = request.id % 2;
              const outcome = await send(instances[on].port, agents[on][w % 2], request);
              expect(outcome.complete).toBe(true);
              answered.push({ planned: request, outcome });
            }
          }),
        );
        const tookMs = Date.now() - began;
        for (const agent of agents.flat()) agent.destroy();
        for (const { planned: p, outcome } of answered) {
          expect({ id: p.id, status: outcome.status, bytes: outcome.bytes }).toEqual({
            id: p.id,
            status: p.status,
            bytes: p.responseBytes,
          });
        }
        expect(seenIds(upstream, 'id').size).toBe(TOTAL);

        for (const { server } of instances) server.kill('SIGTERM');
        for (const { server } of instances) {
          expect(await server.waitForExit(20_000)).toEqual({ code: 0, signal: null });
        }
        // A third process reads what the two wrote.
        const reader = await startServer({ dataDir: dirs[2], secret, databaseUrl });
        servers.push(reader);
        let total = 0;
        for (const key of keys) {
          const expected = expectedFor(answered.filter((x) => x.planned.key === key));
          const totals = await stored(reader.url, master, key);
          expect(storedAsExpected(totals)).toEqual(expected);
          expect(totals.count).toBe(expected.count);
          total += totals.usageCount;
        }
        expect(total).toBe(TOTAL);
        reader.kill('SIGTERM');
        await reader.waitForExit(20_000);
        figures(`two instances on PostgreSQL: ${TOTAL} proxied requests in ${tookMs} ms`);
      } finally {
        for (const server of servers) await server.stop();
        await upstream.close();
        await dropDatabase(databaseUrl);
        for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
      }
    }, 90_000);
  });
} else {
  describe('gateway mode, two instances on one PostgreSQL', () => {
    it.skip('needs PostgreSQL (see the banner of global-setup)', () => {});
  });
}
