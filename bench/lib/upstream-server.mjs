#!/usr/bin/env node
// The upstream API of the gateway scenarios (G1-G5): a node:http server in a process of its own,
// started by lib/gateway.mjs, printing {"port": N} on its first line of stdout. Routes, by the
// end of the path (so a gateway base path in front does not matter):
//
//   /tiny                      {"ok":true}, the trivial upstream of G1-G3
//   /sized?out=N&status=S      drains the request body, answers status S with N bytes ('x'),
//                              Content-Length, or chunked with &chunked=1 (G5)
//   /sink                      drains the request body, answers {"received":N} (G4's upload)
//   /source?bytes=N            streams N bytes in 64 KiB chunks, as the socket drains (G4)
//
// It counts what it was sent, per x-keymeter-key-id (requests, body bytes), and every request
// that still carried a key header; GET /__upstream/stats (on its own port, never through the
// gateway) reads the counts, POST /__upstream/reset clears them.
import http from 'node:http';

const CHUNK = Buffer.alloc(64 * 1024, 'x');
const TINY = Buffer.from('{"ok":true}');

let stats = fresh();
function fresh() {
  return { requests: 0, bytesIn: 0, keyHeadersSeen: 0, byKeyId: {} };
}

function count(req, bytes) {
  stats.requests++;
  stats.bytesIn += bytes;
  if (req.headers.authorization || req.headers['x-api-key']) stats.keyHeadersSeen++;
  const id = req.headers['x-keymeter-key-id'];
  if (id) {
    const k = (stats.byKeyId[id] ??= { requests: 0, bytesIn: 0 });
    k.requests++;
    k.bytesIn += bytes;
  }
}

/** Reads the body away, then calls done(bytes). */
function drain(req, done) {
  let bytes = 0;
  req.on('data', (chunk) => (bytes += chunk.length));
  req.on('end', () => done(bytes));
}

function source(res, total) {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
  let left = total;
  const more = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      const chunk = n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n);
      if (left === 0) return void res.end(chunk);
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    res.end();
  };
  more();
}

const server = http.createServer((req, res) => {
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : req.url.slice(q + 1));
  if (path === '/__upstream/stats') {
    return void res.end(JSON.stringify(stats));
  }
  if (path === '/__upstream/reset') {
    stats = fresh();
    return void res.end('{}');
  }
  drain(req, (bytes) => {
    count(req, bytes);
    if (path.endsWith('/tiny')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': TINY.length });
      res.end(TINY);
    } else if (path.endsWith('/sized')) {
      const out = Number(query.get('out') ?? 0);
      const status = Number(query.get('status') ?? 200);
      const chunked = query.get('chunked') === '1';
      res.writeHead(status, {
        'content-type': 'text/plain',
        ...(chunked ? {} : { 'content-length': out }),
      });
      let left = out;
      while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
        left -= n;
      }
      res.end();
    } else if (path.endsWith('/sink')) {
      const body = JSON.stringify({ received: bytes });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    } else if (path.endsWith('/source')) {
      source(res, Number(query.get('bytes') ?? 0));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"no such upstream route"}');
    }
  });
});

process.on('SIGUSR2', () => globalThis.gc?.());
process.on('SIGTERM', () => server.close(() => process.exit(0)));
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
