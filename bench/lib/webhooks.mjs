// The webhook scenarios' pieces (W1, W2): a receiver (node:http in the benchmark process, on
// loopback) that checks every delivery's Standard Webhooks signature, endpoints created through
// keymeter's API, and a paced trickle of changes that make events.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { basicAuth, request, sleep } from './util.mjs';

/** Every event type an endpoint may subscribe to (src/webhooks/webhook-events.ts). */
export const EVENT_TYPES = [
  'key.created',
  'key.updated',
  'key.deleted',
  'key.rolled',
  'key.expiring',
  'key.expired',
  'usage.threshold',
  'usage.rate_limited',
];

/**
 * Whether `headers` sign `body` with `secret` (Standard Webhooks: `v1,` and the base64
 * HMAC-SHA256 of `${webhook-id}.${webhook-timestamp}.${body}`, keyed by the base64-decoded part
 * of the secret after `whsec_`; several space-separated signatures after a rotation, any may
 * match). Computed here, not with keymeter's own signer, so that the check is independent.
 */
export function verifySignature(secret, headers, body) {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sigs = headers['webhook-signature'];
  if (!id || !ts || !sigs) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const want = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
  return String(sigs)
    .split(' ')
    .some((s) => {
      const [version, mac] = s.split(',');
      if (version !== 'v1' || !mac) return false;
      const got = Buffer.from(mac, 'base64');
      return got.length === want.length && timingSafeEqual(got, want);
    });
}

/**
 * A receiver on 127.0.0.1: POST /hook/<endpoint id> is one delivery, answered 200 after
 * `delayMs` (0: at once). Each delivery is verified with the secret registered for its endpoint
 * (`addSecret`) and recorded: { at (performance.now() when its body had arrived), endpoint,
 * event (the parsed body), valid }. `listeners` are called with each delivery.
 */
export async function startReceiver({ delayMs = 0 } = {}) {
  const secrets = new Map();
  const listeners = new Set();
  const counts = { deliveries: 0, bad_signatures: 0, unknown_endpoint: 0, not_json: 0 };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const body = Buffer.concat(chunks).toString('utf8');
      const endpoint = decodeURIComponent(req.url.replace(/^\/hook\//, ''));
      const secret = secrets.get(endpoint);
      counts.deliveries++;
      if (!secret) counts.unknown_endpoint++;
      const valid = !!secret && verifySignature(secret, req.headers, body);
      if (!valid) counts.bad_signatures++;
      let event = null;
      try {
        event = JSON.parse(body);
      } catch {
        counts.not_json++;
      }
      const delivery = { at, endpoint, event, valid, id: req.headers['webhook-id'] };
      for (const l of listeners) l(delivery);
      const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    delayMs,
    counts,
    url: (name) => `http://127.0.0.1:${port}/hook/${encodeURIComponent(name)}`,
    addSecret: (endpoint, secret) => secrets.set(endpoint, secret),
    listen(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/**
 * `n` endpoints of the account of `master` on `server`, each at its own path of `receiver`,
 * subscribed to `events`; their secrets registered with the receiver. Returns their ids.
 */
export async function createEndpoints(server, master, receiver, n, events = EVENT_TYPES) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    // The endpoint's id is not known before it is created: the path names a label, and the
    // secret is registered under it.
    const label = `ep-${Date.now().toString(36)}-${i}-${Math.floor(Math.random() * 1e9)}`;
    const res = await request(server.port, 'POST', '/1.0/webhooks', {
      headers: { authorization: basicAuth(master) },
      body: { url: receiver.url(label), events },
    });
    if (res.status !== 200) throw new Error(`create webhook: ${res.status} ${res.text()}`);
    const body = res.json();
    if (!body.secret?.startsWith('whsec_')) throw new Error(`no whsec_ secret in ${res.text()}`);
    receiver.addSecret(label, body.secret);
    ids.push(body.id);
  }
  return ids;
}

/**
 * Creates a key with the master key `perSecond` times a second (each one key.created event),
 * from now until stop(); stop() resolves with how many were created and how many failed.
 */
export function trickle(server, master, perSecond, label) {
  let stopped = false;
  let created = 0;
  let failed = 0;
  let n = 0;
  const gap = 1000 / perSecond;
  const loop = (async () => {
    const t0 = performance.now();
    while (!stopped) {
      const res = await request(server.port, 'POST', '/1.0/keys', {
        headers: { authorization: basicAuth(master) },
        body: { name: `${label}-${n++}` },
      }).catch(() => ({ status: 0 }));
      if (res.status === 200) created++;
      else failed++;
      const due = t0 + n * gap - performance.now();
      if (due > 0 && !stopped) await sleep(due);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { created, failed };
    },
  };
}
