#!/usr/bin/env node
// The unmetered reverse proxies that G1 (and G3, G4) compare keymeter's gateway with: one
// process, no key check, no metering, otherwise the gateway's work as src/gateway/ does it:
// a node:http server; method, path, query and body forwarded unchanged; hop-by-hop headers
// dropped (and those Connection names); Host set to the upstream and X-Forwarded-For/-Proto/
// -Host set; headersDistinct in, setHeader per header out; a timer for the upstream's
// response headers (GATEWAY_TIMEOUT_MS, 30 s); both bodies streamed with stream.pipeline.
//
//   node plain-proxy.mjs node        UPSTREAM_URL   http.request over a keep-alive http.Agent
//                                                   with the gateway's options (the same build)
//   node plain-proxy.mjs undici      UPSTREAM_URL   undici's Pool.request, body piped back with
//                                                   stream.pipeline (the second candidate)
//   node plain-proxy.mjs node-lean   UPSTREAM_URL   node:http, but a request without a body is
//                                                   ended instead of piped, and the answer is
//                                                   .pipe()d (a variant of the first)
//
// Prints {"port": N} on its first line of stdout. SIGUSR2 runs a full GC (with --expose-gc).
import http from 'node:http';
import { pipeline } from 'node:stream';

const [impl, upstreamUrl] = process.argv.slice(2);
const upstream = new URL(upstreamUrl);
const base = upstream.pathname.replace(/\/$/, '');
const origin = { protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port };
const TIMEOUT_MS = Number(process.env.GATEWAY_TIMEOUT_MS ?? 30_000);
/** The gateway's pool: src/gateway/gateway-proxy.ts. */
const AGENT = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' };

// RFC 9110 7.6.1: connection-specific fields are not forwarded (nor the ones Connection names).
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function connectionOptions(headers) {
  const names = new Set();
  for (const value of headers.connection ?? [])
    for (const name of value.split(',')) if (name.trim()) names.add(name.trim().toLowerCase());
  return names;
}

function responseHeaders(distinct) {
  const dropped = connectionOptions(distinct);
  const out = {};
  for (const [name, values] of Object.entries(distinct))
    if (!HOP.has(name) && !dropped.has(name)) out[name] = values;
  return out;
}

function requestHeaders(req) {
  const distinct = req.headersDistinct;
  const dropped = connectionOptions(distinct);
  const out = {};
  for (const [name, values] of Object.entries(distinct)) {
    if (HOP.has(name) || dropped.has(name) || name === 'host') continue;
    if (name.startsWith('x-forwarded-')) continue;
    out[name] = values;
  }
  out.host = [upstream.host];
  const chain = (distinct['x-forwarded-for'] ?? []).join(', ');
  const ip = req.socket.remoteAddress ?? '';
  out['x-forwarded-for'] = [chain ? `${chain}, ${ip}` : ip];
  out['x-forwarded-proto'] = ['http'];
  if (distinct.host) out['x-forwarded-host'] = [distinct.host[0]];
  return out;
}

const hasBody = (req) =>
  req.headers['transfer-encoding'] !== undefined ||
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

function fail(res, status) {
  if (res.headersSent || res.destroyed) return void res.destroy();
  const body = `{"error":"${status === 502 ? 'bad gateway' : 'gateway timeout'}"}`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

function nodeHttp({ lean }) {
  const agent = new http.Agent(AGENT);
  return (req, res) => {
    let responded = false;
    const up = http.request({
      ...origin,
      agent,
      method: req.method,
      path: base + req.url,
      headers: single(requestHeaders(req)),
    });
    const timer = setTimeout(
      () => up.destroy(Object.assign(new Error('timeout'), { timeout: true })),
      TIMEOUT_MS,
    );
    res.once('close', () => {
      clearTimeout(timer);
      if (!responded) up.destroy();
    });
    up.on('response', (ures) => {
      clearTimeout(timer);
      responded = true;
      if (res.destroyed) return void ures.destroy();
      for (const [name, value] of Object.entries(single(responseHeaders(ures.headersDistinct))))
        res.setHeader(name, value);
      res.writeHead(ures.statusCode, ures.statusMessage);
      if (lean) {
        ures.on('error', () => res.destroy());
        ures.pipe(res);
      } else pipeline(ures, res, () => undefined);
    });
    up.on('error', (error) => {
      clearTimeout(timer);
      if (res.destroyed || res.writableEnded) return;
      fail(res, error.timeout ? 504 : 502);
    });
    if (lean && !hasBody(req)) {
      req.resume();
      up.end();
    } else pipeline(req, up, () => undefined);
  };
}

/**
 * One value as a string, repeated ones as an array: as the gateway's outgoing() does (Node's
 * Agent wants Host as a string, undici refuses content-length: ['5']).
 */
function single(headers) {
  const out = {};
  for (const [name, values] of Object.entries(headers))
    out[name] = Array.isArray(values) && values.length === 1 ? values[0] : values;
  return out;
}

async function undiciPool() {
  const { Pool } = await import('undici');
  const pool = new Pool(upstream.origin, {
    connections: AGENT.maxSockets,
    pipelining: 1,
    headersTimeout: TIMEOUT_MS,
  });
  return (req, res) => {
    const body = hasBody(req) ? req : null;
    const controller = new AbortController();
    res.once('close', () => controller.abort());
    pool.request(
      {
        method: req.method,
        path: base + req.url,
        headers: single(requestHeaders(req)),
        body,
        signal: controller.signal,
      },
      (error, data) => {
        if (error) return fail(res, error.code === 'UND_ERR_HEADERS_TIMEOUT' ? 504 : 502);
        if (res.destroyed) return void data.body.destroy();
        // undici gives one value per name, arrays for repeated ones
        const distinct = {};
        for (const [name, value] of Object.entries(data.headers))
          distinct[name] = Array.isArray(value) ? value : [value];
        for (const [name, value] of Object.entries(single(responseHeaders(distinct))))
          res.setHeader(name, value);
        res.writeHead(data.statusCode);
        pipeline(data.body, res, () => undefined);
      },
    );
    if (!body) req.resume();
  };
}

const handler = impl === 'undici' ? await undiciPool() : nodeHttp({ lean: impl === 'node-lean' });
const server = http.createServer(handler);
process.on('SIGUSR2', () => globalThis.gc?.());
process.on('SIGTERM', () => server.close(() => process.exit(0)));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port, impl })}\n`);
});
