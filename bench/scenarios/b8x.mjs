// B8x: a key deactivated on one instance is refused by another sharing its PostgreSQL database
// within a second (KeyChangeChannel: LISTEN/NOTIFY). See docs/benchmarks.md.
import { PgTarget, postgresqlOnly } from '../lib/db.mjs';
import { createKey, register } from '../lib/seed.mjs';
import { basicAuth, median, nowMs, request, round, sleep } from '../lib/util.mjs';

const TRIES = 20;
/** Far beyond the measurement: a refusal on B can only come from the channel, not the TTL. */
const TTL_MS = '600000';
/** A try that sees no 401 on B this long after the PATCH counts as a failure. */
const GIVE_UP_MS = 5000;

/**
 * A client calls B every 10 ms with a new key (cached on B after its first call); the key is
 * deactivated through A. Time from the PATCH's response to B's first 401.
 */
async function once(A, B, master, label) {
  const key = await createKey(A, master, `b8x-${label}-${Date.now()}`);
  const headers = { authorization: basicAuth(key) };
  const calls = [];
  let patchedAt = null;
  let stop = false;
  const client = (async () => {
    for (;;) {
      const sentAt = nowMs();
      const res = await request(B.port, 'GET', '/__bench/metered', { headers });
      const recvAt = nowMs();
      calls.push({ sentAt, recvAt, status: res.status });
      if (res.status === 401 && patchedAt !== null) return;
      if (stop) return;
      await sleep(Math.max(0, 10 - (recvAt - sentAt)));
    }
  })();
  await sleep(100);
  const patchStart = nowMs();
  const res = await request(A.port, 'PATCH', `/1.0/keys/${key}`, {
    headers: { authorization: basicAuth(master) },
    body: { isActive: false },
  });
  patchedAt = nowMs();
  if (res.status !== 200) throw new Error(`PATCH: ${res.status} ${res.text()}`);
  const timer = setTimeout(() => (stop = true), GIVE_UP_MS);
  await client;
  clearTimeout(timer);
  const before = calls.filter((c) => c.recvAt < patchStart);
  if (before.length === 0 || before.some((c) => c.status !== 200))
    throw new Error(`B did not accept the key before the PATCH: ${JSON.stringify(before)}`);
  const first401 = calls.find((c) => c.status === 401 && c.recvAt >= patchStart);
  return {
    ms: first401 ? round(Math.max(0, first401.recvAt - patchedAt), 1) : null,
    accepted_after_patch_returned: calls.filter((c) => c.sentAt >= patchedAt && c.status < 300)
      .length,
    patch_ms: round(patchedAt - patchStart, 1),
  };
}

async function run(ctx) {
  const target = await new PgTarget(ctx.opts['pg-url'], 'b8x').create();
  const env = { KEY_CACHE_TTL_MS: TTL_MS };
  const A = ctx.server({ name: 'postgresql-b8x-a', target, env });
  const B = ctx.server({ name: 'postgresql-b8x-b', target, env, secret: A.secret });
  try {
    await A.start();
    await B.start();
    const account = await register(A, 'b8x');
    const tries = [];
    for (let i = 0; i < TRIES; i++) tries.push(await once(A, B, account.master, String(i)));
    const times = tries.map((t) => t.ms);
    const all = times.every((t) => t !== null);
    return {
      fields: {
        revocation_cross_instance_ms: {
          p50: round(median(times), 1),
          max: all ? Math.max(...times) : null,
        },
      },
      details: {
        tries,
        refused_in_every_try: all,
        client_interval_ms: 10,
        key_cache_ttl_ms: Number(TTL_MS),
      },
    };
  } finally {
    await ctx.release(B);
    await ctx.release(A);
    if (!ctx.opts.keep) await target.drop();
  }
}

export default {
  id: 'B8X',
  title: 'revocation across instances',
  targets: {
    revocation_cross_instance_ms: {
      op: 'max ≤ 1000, p50 ≤ 100',
      value: null,
      met: (fields) => {
        const v = fields?.revocation_cross_instance_ms;
        return v ? v.max !== null && v.max <= 1000 && v.p50 <= 100 : null;
      },
      cell: (v) => `p50 ${v.p50} / max ${v.max ?? 'never refused'} ms`,
    },
  },
  // Two instances and a database of its own, after the shared instance has been stopped.
  standalone: true,
  skip: postgresqlOnly,
  run,
};
