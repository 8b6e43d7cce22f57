// B8: a deactivated key is refused from the next request on. See docs/benchmarks.md.
import { createKey } from '../lib/seed.mjs';
import { basicAuth, nowMs, request, round, sleep } from '../lib/util.mjs';

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

async function run(ctx) {
  const { P } = ctx;
  const reps = [];
  for (let i = 0; i < P.b8Reps; i++) reps.push(await revocation(ctx.S, ctx.S, ctx, `same-${i}`));
  const ok = reps.every((r) => r.next_request_rejected && r.accepted_after_patch_returned === 0);
  // Informative (full mode): the client calls another instance sharing the database, which
  // trusts its cached copy of the key for up to KEY_CACHE_TTL_MS.
  const other =
    ctx.strict && P.mode === 'full' ? await revocation(ctx.strict, ctx.S, ctx, 'other') : null;
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

export default {
  id: 'B8',
  title: 'revocation',
  targets: {
    revocation_ms: {
      op: 'next request',
      value: null,
      // Met when the first request sent after the PATCH returned was refused, in every repetition.
      met: (fields) => fields?.revocation_next_request,
      cell: (v, fields) =>
        `${v} ms (${fields.revocation_next_request ? 'next request 401' : 'LATE'})`,
    },
  },
  // The strict instance, when B2 started it, is another instance on the same database.
  uses: ['strict'],
  run,
};
