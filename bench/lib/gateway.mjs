// What the gateway scenarios (G1-G5) share: the upstream and plain-proxy processes, a keymeter
// with its gateway on, per-process CPU and memory from /proc, a paced (open-loop) load and a
// streaming client.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { basicAuth, freePort, log, percentile, request, sleep } from './util.mjs';

const LIB = path.dirname(fileURLToPath(import.meta.url));
const TICK_US = 1e6 / 100; // Linux's USER_HZ: /proc's CPU times are in 1/100 s

const spawned = new Set();
process.on('exit', () => {
  for (const p of spawned) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

/**
 * A node script of lib/ as a process of its own (under `taskset -c cpus` when given), started
 * when its first line of stdout, {"port": N}, says it listens.
 */
export class Proc {
  constructor({ name, script, args = [], cpus, logDir, nodeArgs = [] }) {
    Object.assign(this, { name, script, args, cpus, logDir, nodeArgs });
  }

  async start() {
    const argv = [...this.nodeArgs, path.join(LIB, this.script), ...this.args];
    const [command, args] = this.cpus
      ? ['taskset', ['-c', this.cpus, process.execPath, ...argv]]
      : [process.execPath, argv];
    const err = openSync(path.join(this.logDir, `${this.name}.log`), 'a');
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', err] });
    closeSync(err);
    spawned.add(this);
    const child = this.child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const first = await new Promise((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (chunk) => {
        text += chunk;
        const nl = text.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(text.slice(0, nl)));
      });
      this.exited.then((state) =>
        reject(new Error(`${this.name} exited: ${JSON.stringify(state)}`)),
      );
    });
    this.port = first.port;
    this.pid = child.pid; // taskset execs node: the same pid
    return this;
  }

  /** A full GC in the process (SIGUSR2, with --expose-gc), and a moment for it to run. */
  async gc() {
    this.child.kill('SIGUSR2');
    await sleep(100);
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const state = await Promise.race([this.exited, sleep(5000, null, { ref: false })]);
    if (!state) this.child.kill('SIGKILL');
    spawned.delete(this);
  }
}

/** CPU time (µs, user + system) and memory (MB: RSS, its peak since the last reset) of a pid. */
export function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuUs = (Number(fields[11]) + Number(fields[12])) * TICK_US;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { cpuUs, rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/** Resets a process's peak RSS (VmHWM) to its current RSS; false where /proc does not allow it. */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the processes run. keymeter and the plain proxies have the server CPUs (as keymeter
 * has in every scenario); the upstream shares CPU 0 with the load generator, so that the proxy
 * under test is the only process on its CPU and the ratios are the proxies' own.
 */
export function placement(ctx) {
  const pinned = Boolean(ctx.pin?.server);
  return {
    proxy: ctx.pin?.server,
    upstream: pinned ? '0' : undefined,
    note: pinned
      ? `load generator and upstream on CPU 0, the proxy under test (keymeter or plain) on CPU ${ctx.pin.server}`
      : 'not pinned',
  };
}

export function startUpstream(ctx) {
  return new Proc({
    name: `${ctx.kind}-upstream`,
    script: 'upstream-server.mjs',
    cpus: placement(ctx).upstream,
    logDir: ctx.logDir,
    nodeArgs: ['--expose-gc'],
  }).start();
}

/** A plain proxy ('node' or 'undici') in front of `upstream`. */
export function startPlainProxy(ctx, impl, upstream, label = impl) {
  return new Proc({
    name: `${ctx.kind}-plain-${label}`,
    script: 'plain-proxy.mjs',
    args: [impl, `http://127.0.0.1:${upstream.port}`],
    cpus: placement(ctx).proxy,
    logDir: ctx.logDir,
    nodeArgs: ['--expose-gc'],
  }).start();
}

/**
 * A keymeter (the bench entry) on the shared instance's database, with GATEWAY_UPSTREAM set to
 * `upstream` and the gateway on a port of its own (server.gatewayPort); resolves once a keyed
 * request through the gateway is answered by the upstream.
 */
export async function startGateway(ctx, upstream, { name = `${ctx.kind}-gateway`, env = {} } = {}) {
  const gatewayPort = await freePort();
  const server = ctx.server({
    name,
    target: ctx.target,
    secret: ctx.S.secret,
    env: {
      GATEWAY_UPSTREAM: `http://127.0.0.1:${upstream.port}`,
      GATEWAY_PORT: String(gatewayPort),
      ...env,
    },
  });
  await server.start();
  server.gatewayPort = gatewayPort;
  const deadline = performance.now() + 30_000;
  for (;;) {
    const res = await request(gatewayPort, 'GET', '/tiny', {
      headers: { authorization: basicAuth(ctx.hot) },
      timeoutMs: 2000,
    }).catch((error) => ({ status: error.code ?? String(error) }));
    if (res.status === 200) return server;
    if (performance.now() > deadline) {
      await ctx.release(server);
      throw new Error(
        `the gateway on port ${gatewayPort} did not answer 200 within 30 s (last: ${res.status}); ` +
          `is GATEWAY_UPSTREAM/GATEWAY_PORT in this build?\n${server.logTail()}`,
      );
    }
    await sleep(200);
  }
}

/**
 * `rate` GET requests a second to `port` + `path` for `seconds`, each sent when it is due
 * (open loop, one keep-alive agent of up to 256 sockets), whatever the answers before it did:
 * a server that stalls finds the requests due meanwhile waiting, so a stall shows in the
 * percentiles (no coordinated omission). Latency (p50_ms, p99_ms) is from the call that sends
 * the request (a wait for a socket included) to the last byte of its answer; `from_due` is the
 * same from the moment it was due, which adds the client's own timer lag (1 ms timers).
 */
export function pacedLoad({ port, path: reqPath, headers, rate, seconds }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const latencies = new Float64Array(total);
  const fromDue = new Float64Array(total);
  let sent = 0;
  let done = 0;
  let errors = 0;
  let non2xx = 0;
  let maxBehindMs = 0;
  return new Promise((resolve) => {
    const start = performance.now();
    const finish = () => {
      agent.destroy();
      const ms = Array.from(latencies);
      const due = Array.from(fromDue);
      resolve({
        rate,
        requests: total,
        errors,
        non2xx,
        p50_ms: percentile(ms, 50),
        p90_ms: percentile(ms, 90),
        p99_ms: percentile(ms, 99),
        max_ms: percentile(ms, 100),
        from_due: { p50_ms: percentile(due, 50), p99_ms: percentile(due, 99) },
        duration_s: (performance.now() - start) / 1000,
        // how far the loop fell behind its schedule at worst (the client's own lag)
        client_behind_max_ms: maxBehindMs,
      });
    };
    const fire = (i, due) => {
      const sentAt = performance.now();
      const req = http.request(
        { host: '127.0.0.1', port, path: reqPath, headers, agent },
        (res) => {
          if (res.statusCode < 200 || res.statusCode >= 300) non2xx++;
          res.resume();
          res.on('end', () => {
            const now = performance.now();
            latencies[i] = now - sentAt;
            fromDue[i] = now - due;
            if (++done === total) finish();
          });
        },
      );
      req.on('error', () => {
        errors++;
        latencies[i] = NaN;
        fromDue[i] = NaN;
        if (++done === total) finish();
      });
      req.end();
    };
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / interval) + 1);
      if (due > sent) maxBehindMs = Math.max(maxBehindMs, now - (start + sent * interval));
      while (sent < due) {
        fire(sent, start + sent * interval);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    };
    tick();
  });
}

/**
 * Streams `bytes` to `port` + `path` (POST, Content-Length, 64 KiB writes as the socket drains)
 * and reads the whole answer; or, with `download`, GETs it and counts the answer's bytes. While
 * it runs, samples `pid`'s RSS every 50 ms. Resolves with what went each way, the answer's text
 * (an upload's) and the RSS samples' maximum.
 */
export function streamTransfer({ port, path: reqPath, headers, bytes = 0, download = false, pid }) {
  const chunk = Buffer.alloc(64 * 1024, 'y');
  let maxRssMb = 0;
  const sample = () => {
    try {
      maxRssMb = Math.max(maxRssMb, procStats(pid).rssMb);
    } catch {
      // exited
    }
  };
  const sampler = setInterval(sample, 50);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: download ? 'GET' : 'POST',
        path: reqPath,
        agent: false,
        headers: {
          ...headers,
          ...(download
            ? {}
            : { 'content-type': 'application/octet-stream', 'content-length': bytes }),
        },
      },
      (res) => {
        let received = 0;
        const kept = [];
        res.on('data', (c) => {
          received += c.length;
          if (!download) kept.push(c);
        });
        res.on('end', () => {
          clearInterval(sampler);
          sample();
          resolve({
            status: res.statusCode,
            sent: download ? 0 : bytes,
            received,
            text: download ? '' : Buffer.concat(kept).toString('utf8'),
            seconds: (performance.now() - t0) / 1000,
            maxRssMb,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', (error) => {
      clearInterval(sampler);
      reject(error);
    });
    if (download) return void req.end();
    let left = bytes;
    const more = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        const ok = req.write(n === chunk.length ? chunk : chunk.subarray(0, n));
        if (!ok) return void req.once('drain', more);
      }
      req.end();
    };
    more();
  });
}

/** The upstream's own counts (requests, bytes, per key id, key headers that reached it). */
export async function upstreamStats(upstream, { reset = false } = {}) {
  const res = await request(
    upstream.port,
    reset ? 'POST' : 'GET',
    `/__upstream/${reset ? 'reset' : 'stats'}`,
  );
  return res.json();
}

export { log };
