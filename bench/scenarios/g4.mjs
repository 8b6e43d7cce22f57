// G4: a 1 GiB upload and a 1 GiB download streamed through the gateway; how far the keymeter
// process's RSS grows over its idle RSS, and whether the bytes were metered. See
// docs/benchmarks.md.
import {
  placement,
  procStats,
  resetPeak,
  startGateway,
  startPlainProxy,
  streamTransfer,
} from '../lib/gateway.mjs';
import { createKey, listKeys } from '../lib/seed.mjs';
import { basicAuth, median, round, sleep } from '../lib/util.mjs';

const WARM_BYTES = 8 * 2 ** 20;

/** Median of five RSS samples 100 ms apart. */
async function idleRss(pid) {
  const samples = [];
  for (let i = 0; i < 5; i++) {
    samples.push(procStats(pid).rssMb);
    await sleep(100);
  }
  return median(samples);
}

/**
 * Through one proxy (port, pid, gc): a warm-up transfer each way, a GC and the idle RSS, then
 * the upload and the download, each with the process's peak RSS (sampled every 50 ms, and
 * VmHWM reset before it where /proc lets us). `tally` adds up what the client sent and got.
 */
async function streams(target, headers, bytes, tally) {
  const transfer = async (download, size) => {
    const r = await streamTransfer({
      port: target.port,
      path: download ? `/source?bytes=${size}` : '/sink',
      headers,
      bytes: size,
      download,
      pid: target.pid,
    });
    if (r.status !== 200)
      throw new Error(
        `${target.id} ${download ? 'download' : 'upload'}: ${r.status} ${r.text.slice(0, 200)}`,
      );
    const got = download ? r.received : JSON.parse(r.text).received;
    if (got !== size)
      throw new Error(
        `${target.id} ${download ? 'download' : 'upload'}: ${got} bytes arrived of ${size}`,
      );
    tally.requests++;
    tally.volume += r.sent;
    tally.volumeOut += r.received;
    return r;
  };
  await transfer(false, WARM_BYTES);
  await transfer(true, WARM_BYTES);
  await target.gc();
  await sleep(300);
  const idle = await idleRss(target.pid);
  const peakResettable = resetPeak(target.pid);
  const up = await transfer(false, bytes);
  const upHwm = procStats(target.pid).hwmMb;
  const upPeak = Math.max(up.maxRssMb, peakResettable ? upHwm : 0);
  resetPeak(target.pid);
  const down = await transfer(true, bytes);
  const downPeak = Math.max(down.maxRssMb, peakResettable ? procStats(target.pid).hwmMb : 0);
  const after = procStats(target.pid).rssMb;
  const mbps = (r) => round(bytes / 2 ** 20 / r.seconds, 0);
  return {
    idle_rss_mb: round(idle, 1),
    upload: {
      peak_rss_mb: round(upPeak, 1),
      growth_mb: round(upPeak - idle, 1),
      mib_per_s: mbps(up),
      seconds: round(up.seconds, 2),
    },
    download: {
      peak_rss_mb: round(downPeak, 1),
      growth_mb: round(downPeak - idle, 1),
      mib_per_s: mbps(down),
      seconds: round(down.seconds, 2),
    },
    rss_after_mb: round(after, 1),
    growth_mb: round(Math.max(upPeak, downPeak) - idle, 1),
    peak_from: peakResettable
      ? 'VmHWM reset before each transfer, and 50 ms samples'
      : '50 ms samples',
  };
}

async function run(ctx) {
  const { S, P } = ctx;
  const g = ctx.gateway;
  if (!g?.server) throw g?.error ?? new Error('no gateway instance');
  const bytes = P.gateway.streamBytes;
  // A fresh keymeter and a fresh plain proxy: their idle RSS is not what earlier loads left.
  const G = await startGateway(ctx, g.upstream, { name: `${ctx.kind}-g4-gateway` });
  const plain = await startPlainProxy(ctx, 'node-lean', g.upstream, 'g4');
  try {
    const key = await createKey(S, ctx.load.master, `g4-${Date.now()}`);
    const tally = { requests: 0, volume: 0, volumeOut: 0 };
    const gateway = await streams(
      { id: 'gateway', port: G.gatewayPort, pid: G.child.pid, gc: () => G.gc() },
      { authorization: basicAuth(key) },
      bytes,
      tally,
    );
    const plainR = await streams(
      { id: 'plain', port: plain.port, pid: plain.pid, gc: () => plain.gc() },
      {},
      bytes,
      { requests: 0, volume: 0, volumeOut: 0 },
    );
    // SIGTERM flushes what the gateway metered; then the key's totals, from the shared instance.
    await ctx.release(G);
    const stored = (await listKeys(S, ctx.load.master)).find((k) => k.key === key);
    const metered = {
      client: tally,
      stored: {
        requests: stored?.usageCount,
        volume: stored?.volume,
        volumeOut: stored?.volumeOut,
      },
    };
    metered.exact =
      metered.stored.requests === tally.requests &&
      metered.stored.volume === tally.volume &&
      metered.stored.volumeOut === tally.volumeOut;
    return {
      fields: {
        gateway_stream_rss_growth_mb: gateway.growth_mb,
        gateway_stream_metered_exact: metered.exact,
      },
      details: {
        bytes_each_way: bytes,
        placement: placement(ctx).note,
        gateway,
        plain_proxy: plainR,
        metered,
      },
    };
  } finally {
    await ctx.release(G);
    await plain.stop();
  }
}

export default {
  id: 'G4',
  title: '1 GiB streamed each way through the gateway',
  targets: {
    gateway_stream_rss_growth_mb: { op: '<=', value: 64 },
    gateway_stream_metered_exact: { op: '==', value: true },
  },
  needs: () => ['gateway'],
  skip: (ctx) =>
    ctx.P.mode === 'quick' && ctx.kind === 'postgresql'
      ? 'SQLite only in --quick (streaming does not touch the database)'
      : null,
  run,
};
