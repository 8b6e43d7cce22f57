import { createHash } from 'node:crypto';
import http, { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the upstream saw of one request. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  bodyBytes: number;
  bodySha256: string;
}

export interface Upstream {
  url: string;
  port: number;
  seen: SeenRequest[];
  /** Sockets the upstream holds open right now. */
  openSockets(): number;
  close(): Promise<void>;
}

/** A deterministic body of `n` bytes (all byte values), streamed in 64 KiB chunks. */
export function patternChunk(offset: number, size: number): Buffer {
  const chunk = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) chunk[i] = (offset + i) % 251;
  return chunk;
}

const CHUNK = 64 * 1024;

/**
 * A real node:http upstream for the gateway's tests, on an ephemeral loopback port:
 * - `/echo…` answers JSON {method, url, headers, bodyBytes, bodySha256} of what arrived;
 * - `/bytes/N` streams N bytes (chunked, no Content-Length) and `/fixed/N` sends N with one;
 * - `/status/N` answers status N with a small body; `/slow/MS` answers after MS ms;
 * - `/hang` never answers; `/sink` reads the body and answers its size; `/early` answers before
 *   it has read the body;
 * - an upgrade (WebSocket handshake) is accepted and every byte is echoed back.
 */
export async function startUpstream(): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    // `/early` answers at once, before reading the body it keeps receiving (as a 401 or 413
    // from an API would).
    if (/^(?:\/base)?\/early/.test(req.url ?? '')) res.end('early');
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      const record: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyBytes: bytes,
        bodySha256: hash.digest('hex'),
      };
      seen.push(record);
      const url = req.url ?? '/';
      // Any base path the gateway prefixes (/base/…) is skipped.
      const [, route, arg] = /^(?:\/base)?\/([a-z]+)\/?([^?]*)/.exec(url) ?? [];
      if (route === 'bytes' || route === 'fixed') {
        const total = Number(arg);
        if (route === 'fixed') res.setHeader('Content-Length', total);
        res.setHeader('Content-Type', 'application/octet-stream');
        let sent = 0;
        const pump = (): void => {
          while (sent < total) {
            const size = Math.min(CHUNK, total - sent);
            const ok = res.write(patternChunk(sent, size));
            sent += size;
            if (!ok) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      if (route === 'status') {
        res.statusCode = Number(arg);
        res.end(res.statusCode === 204 || res.statusCode === 304 ? undefined : `status ${arg}`);
        return;
      }
      if (route === 'slow') {
        setTimeout(() => res.end('slow'), Number(arg));
        return;
      }
      if (route === 'hang' || route === 'early') return;
      if (route === 'sink') {
        res.end(String(bytes));
        return;
      }
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.end(JSON.stringify(record));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket, head) => {
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyBytes: 0,
      bodySha256: '',
    });
    const accept = createHash('sha1')
      .update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    openSockets: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
