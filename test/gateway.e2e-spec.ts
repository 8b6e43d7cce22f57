import { createHash, randomBytes } from 'node:crypto';
import http, { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { GatewayServer } from '../src/gateway/gateway.server';
import { UsageMeter } from '../src/usage/usage-meter.service';
import { providers, startApp, TestApp } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';
import { freePort } from './helpers/process';
import { createKey, CreatedKey } from './helpers/optidash-fixtures';
import { patternChunk, startUpstream, Upstream } from './helpers/upstream';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Call {
  method?: string;
  path: string;
  headers?: http.OutgoingHttpHeaders | string[];
  body?: Buffer | Buffer[];
}

/** One request to `port` on a fresh connection; `body` as an array is sent chunked. */
function call(port: number, { method = 'GET', path, headers = {}, body }: Call): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (Array.isArray(body)) {
      for (const part of body) req.write(part);
      req.end();
    } else {
      req.end(body);
    }
  });
}

const json = (reply: Reply) => JSON.parse(reply.body.toString('utf8')) as Record<string, unknown>;
const sha256 = (buffer: Buffer) => createHash('sha256').update(buffer).digest('hex');

/** Waits until `check` holds (polling), or fails with `what`. */
async function eventually(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface TrafficBucket {
  count: number;
  volume: number;
  volumeOut: number;
  status2xx: number;
  status3xx: number;
  status4xx: number;
  status5xx: number;
  latencyMsAvg: number | null;
  latencyMsMax: number | null;
}

for (const provider of providers()) {
  describe(`gateway mode [${provider}]`, () => {
    let upstream: Upstream;
    let target: TestApp;
    let port: number;
    let owner: TestAccount;
    let client: CreatedKey;

    beforeAll(async () => {
      upstream = await startUpstream();
      target = await startApp(provider, {
        env: {
          GATEWAY_UPSTREAM: `${upstream.url}/base`,
          GATEWAY_PORT: '0',
          GATEWAY_TIMEOUT_MS: '1000',
        },
      });
      port = target.app.get(GatewayServer).port!;
      owner = await account(target.http);
      client = await createKey(target.http, owner.masterKey, 'client app');
    });

    afterAll(async () => {
      await target?.close();
      await upstream?.close();
    });

    const master = () => ({ Authorization: basic(owner.masterKey) });

    /** Totals and the minute bucket of now for `keyId`, after a flush. */
    async function traffic(keyId: string): Promise<{ totals: TrafficBucket; listed: object }> {
      await target.app.get(UsageMeter).flush();
      const to = new Date(Date.now() + 60_000).toISOString();
      const from = new Date(Date.now() - 10 * 60_000).toISOString();
      const res = await target.http
        .get(`/1.0/keys/${keyId}`)
        .query({ interval: 'minute', include: 'traffic', from, to })
        .set(master())
        .expect(200);
      const buckets = res.body.results as TrafficBucket[];
      const totals = buckets.reduce(
        (sum, b) => {
          for (const field of [
            'count',
            'volume',
            'volumeOut',
            'status2xx',
            'status3xx',
            'status4xx',
            'status5xx',
          ] as const) {
            sum[field] += b[field];
          }
          if (b.latencyMsMax !== null) {
            sum.latencyMsMax = Math.max(sum.latencyMsMax ?? 0, b.latencyMsMax);
          }
          return sum;
        },
        {
          count: 0,
          volume: 0,
          volumeOut: 0,
          status2xx: 0,
          status3xx: 0,
          status4xx: 0,
          status5xx: 0,
          latencyMsAvg: null,
          latencyMsMax: null,
        } as TrafficBucket,
      );
      const list = await target.http.get('/1.0/keys').set(master()).expect(200);
      const listed = (list.body.keys as { id: string }[]).find((k) => k.id === keyId)!;
      return { totals, listed };
    }

    it('refuses requests without a valid key with the API’s envelope, and the upstream never sees them', async () => {
      const before = upstream.seen.length;
      const cases: [http.OutgoingHttpHeaders, string][] = [
        [{}, '/1.0/keys'],
        [{ Authorization: 'Bearer km_short' }, '/1.0/keys'],
        [{ 'x-api-key': `km_${'A'.repeat(46)}` }, '/1.0/keys'],
        [{ Authorization: 'Digest abc' }, '/1.0/keys'],
      ];
      for (const [headers, apiPath] of cases) {
        const viaGateway = await call(port, { path: '/echo', headers });
        const viaApi = await target.http.get(apiPath).set(headers as Record<string, string>);
        expect(viaGateway.status).toBe(401);
        expect(json(viaGateway)).toEqual(viaApi.body);
        expect(viaGateway.headers['www-authenticate']).toBe('Basic realm="keymeter"');
        expect(viaGateway.headers['content-type']).toBe('application/json; charset=utf-8');
      }
      const off = await createKey(target.http, owner.masterKey, 'deactivated');
      await target.http
        .patch(`/1.0/keys/${off.id}`)
        .set(master())
        .send({ isActive: false })
        .expect(200);
      const deactivated = await call(port, { path: '/echo', headers: { 'x-api-key': off.key } });
      expect(deactivated.status).toBe(401);
      expect(json(deactivated).message).toBe('the API key is deactivated');
      expect(upstream.seen.length).toBe(before);
    });

    it('forwards method, path, query, headers and a binary body unchanged, without the key', async () => {
      const body = randomBytes(70_000);
      const reply = await call(port, {
        method: 'PUT',
        path: '/echo/a%20b/c?x=1&y=%C3%A9&x=2',
        // Raw headers: Node adds no Host of its own to them.
        headers: [
          'Host',
          `127.0.0.1:${port}`,
          'Authorization',
          `Bearer ${client.key}`,
          'X-Custom',
          'one',
          'X-Custom',
          'two',
          'Content-Type',
          'application/octet-stream',
          'X-Keymeter-Key-Id',
          'spoofed',
          'X-Forwarded-For',
          '203.0.113.7',
          'Connection',
          'keep-alive, X-Hop',
          'X-Hop',
          'dropped',
          'Content-Length',
          String(body.length),
        ],
        body,
      });
      expect(reply.status).toBe(200);
      const seen = json(reply) as { method: string; url: string; headers: Record<string, string> };
      expect(seen.method).toBe('PUT');
      expect(seen.url).toBe('/base/echo/a%20b/c?x=1&y=%C3%A9&x=2');
      expect(seen).toMatchObject({ bodyBytes: body.length, bodySha256: sha256(body) });
      expect(seen.headers.authorization).toBeUndefined();
      expect(seen.headers['x-api-key']).toBeUndefined();
      expect(seen.headers['x-hop']).toBeUndefined();
      expect(seen.headers['x-custom']).toBe('one, two');
      expect(seen.headers['x-keymeter-key-id']).toBe(client.id);
      expect(seen.headers['x-keymeter-key-name']).toBe('client app');
      expect(seen.headers['x-keymeter-account-id']).toBe(owner.accountId);
      expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
      expect(seen.headers['x-forwarded-proto']).toBe('http');
      expect(seen.headers['x-forwarded-host']).toBe(`127.0.0.1:${port}`);
      expect(seen.headers.host).toBe(`127.0.0.1:${upstream.port}`);
      // The upstream's response headers come back as they were, repeated ones included.
      expect(reply.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(reply.headers['content-type']).toBe('application/json');
    });

    it('streams chunked bodies both ways, answers 100-continue, and tunnels a WebSocket', async () => {
      const parts = [patternChunk(0, 10_000), patternChunk(10_000, 5_000)];
      const sink = await call(port, {
        method: 'POST',
        path: '/sink',
        headers: { 'x-api-key': client.key, 'Transfer-Encoding': 'chunked' },
        body: parts,
      });
      expect(sink.body.toString()).toBe('15000');
      const download = await call(port, {
        path: '/bytes/300000',
        headers: { 'x-api-key': client.key },
      });
      expect(download.headers['transfer-encoding']).toBe('chunked');
      expect(download.body.equals(patternChunk(0, 300_000))).toBe(true);

      // Expect: 100-continue: the 100 comes (from the upstream) before the body is sent.
      const continued = await new Promise<{ got100: boolean; body: string }>((resolve, reject) => {
        let got100 = false;
        const req = http.request({
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/sink',
          agent: false,
          headers: { 'x-api-key': client.key, Expect: '100-continue', 'Content-Length': '4' },
        });
        req.on('continue', () => {
          got100 = true;
          req.end('abcd');
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ got100, body: text }));
        });
        req.on('error', reject);
      });
      expect(continued).toEqual({ got100: true, body: '4' });

      // A refused 100-continue request gets its 401 without a 100, and sends no body.
      const refused = await new Promise<{ got100: boolean; status: number }>((resolve, reject) => {
        let got100 = false;
        const req = http.request({
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/sink',
          agent: false,
          headers: { Expect: '100-continue', 'Content-Length': '4' },
        });
        req.on('continue', () => (got100 = true));
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve({ got100, status: res.statusCode ?? 0 }));
        });
        req.on('error', reject);
      });
      expect(refused).toEqual({ got100: false, status: 401 });

      const echoed = await new Promise<{ status: number; accept: string; data: string }>(
        (resolve, reject) => {
          const req = http.request({
            host: '127.0.0.1',
            port,
            path: '/ws',
            agent: false,
            headers: {
              'x-api-key': client.key,
              Connection: 'Upgrade',
              Upgrade: 'websocket',
              'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
              'Sec-WebSocket-Version': '13',
            },
          });
          req.on('upgrade', (res, socket: Socket) => {
            let data = '';
            socket.on('data', (chunk: Buffer) => {
              data += chunk.toString();
              if (data.length >= 10) {
                socket.end();
                resolve({
                  status: res.statusCode ?? 0,
                  accept: String(res.headers['sec-websocket-accept']),
                  data,
                });
              }
            });
            socket.write('hello');
            socket.write('world');
          });
          req.on('error', reject);
          req.end();
        },
      );
      expect(echoed).toEqual({
        status: 101,
        accept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
        data: 'helloworld',
      });
    });

    it('counts a WebSocket once, with its bytes both ways, when it closes', async () => {
      const key = await createKey(target.http, owner.masterKey, 'websocket');
      await new Promise<void>((resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1',
          port,
          path: '/ws',
          agent: false,
          headers: {
            'x-api-key': key.key,
            Connection: 'Upgrade',
            Upgrade: 'websocket',
            'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
            'Sec-WebSocket-Version': '13',
          },
        });
        req.on('upgrade', (_res, socket: Socket) => {
          let echoed = 0;
          socket.on('data', (chunk: Buffer) => {
            echoed += chunk.length;
            // The client ends its side; the gateway passes the end on and records the tunnel.
            if (echoed === 1000) socket.end(resolve);
          });
          socket.write(Buffer.alloc(600));
          socket.write(Buffer.alloc(400));
        });
        req.on('error', reject);
        req.end();
      });
      await eventually(
        'the tunnel to be recorded',
        () => target.app.get(GatewayServer).inFlight === 0,
      );
      const { totals } = await traffic(key.id);
      expect(totals).toMatchObject({ count: 1, volume: 1000, volumeOut: 1000 });
    });

    it('answers 504 when the upstream sends no headers in time, and meters it', async () => {
      const key = await createKey(target.http, owner.masterKey, 'timeouts');
      const started = Date.now();
      const reply = await call(port, { path: '/hang', headers: { 'x-api-key': key.key } });
      expect(reply.status).toBe(504);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(json(reply)).toEqual({
        success: false,
        statusCode: 504,
        error: 'Gateway Timeout',
        message: 'the upstream API sent no response within 1000 ms',
      });
      const { totals } = await traffic(key.id);
      expect(totals).toMatchObject({ count: 1, status5xx: 1, volumeOut: reply.body.length });
      expect(totals.latencyMsMax).toBeGreaterThanOrEqual(900);
    });

    it('meters count, bytes in and out, status classes and latency per key, next to its API use', async () => {
      const key = await createKey(target.http, owner.masterKey, 'metered');
      const headers = { 'x-api-key': key.key };
      const sent = [
        await call(port, { method: 'POST', path: '/fixed/1234', headers, body: randomBytes(100) }),
        await call(port, { path: '/bytes/5000', headers }),
        await call(port, { path: '/status/404', headers }),
        await call(port, { path: '/status/302', headers }),
        await call(port, { path: '/status/503', headers }),
        await call(port, { path: '/slow/150', headers }),
        await call(port, { method: 'HEAD', path: '/fixed/10', headers }),
      ];
      // The key's own request to keymeter's API is metered with its answer too.
      const me = await target.http.get('/1.0/me').set(headers).expect(200);
      const { totals, listed } = await traffic(key.id);
      const bytesOut =
        sent.reduce((n, r) => n + r.body.length, 0) + Number(me.headers['content-length']);
      expect(totals).toMatchObject({
        count: 8,
        volume: 100,
        volumeOut: bytesOut,
        status2xx: 5,
        status3xx: 1,
        status4xx: 1,
        status5xx: 1,
      });
      expect(totals.latencyMsMax).toBeGreaterThanOrEqual(140);
      expect(listed).toMatchObject({ usageCount: 8, volume: 100, volumeOut: bytesOut });

      // The documented answer keeps its shape without include=traffic.
      const plain = await target.http
        .get(`/1.0/keys/${key.id}`)
        .query({ interval: 'day' })
        .set(master())
        .expect(200);
      expect(Object.keys(plain.body.results[0] as object)).toEqual(['bucket', 'volume', 'count']);

      const csv = await target.http
        .get(`/1.0/keys/${key.id}`)
        .query({ interval: 'day', include: 'traffic', format: 'csv' })
        .set(master())
        .expect(200);
      const lines = csv.text.trim().split('\n');
      expect(lines[0]).toBe(
        'bucket,volume,count,refused,volumeOut,status2xx,status3xx,status4xx,status5xx,latencyMsAvg,latencyMsMax',
      );
      const today = lines[lines.length - 1].split(',');
      expect(today.slice(1, 9).map(Number)).toEqual([100, 8, 0, bytesOut, 5, 1, 1, 1]);
    });

    it('holds gateway requests to the key’s rate limit; a refused one never reaches the upstream', async () => {
      const created = await target.http
        .post('/1.0/keys')
        .set(master())
        .send({ name: 'limited', rateLimit: { limit: 2, windowSeconds: 60 } })
        .expect(200);
      const headers = { 'x-api-key': created.body.key as string };
      const before = upstream.seen.length;
      const replies = [];
      for (let i = 0; i < 3; i++) replies.push(await call(port, { path: '/echo', headers }));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 429]);
      expect(json(replies[2])).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
      expect(replies[2].headers['retry-after']).toBeDefined();
      expect(replies[1].headers['ratelimit']).toMatch(/^"rate";r=0;t=\d+$/);
      expect(upstream.seen.length).toBe(before + 2);
    });

    it('cannot be made to smuggle a second request to the upstream', async () => {
      const key = await createKey(target.http, owner.masterKey, 'smuggler');
      const inner =
        'GET /base/echo/smuggled HTTP/1.1\r\nHost: x\r\nx-keymeter-key-id: victim\r\n\r\n';
      const attempts: Call[] = [
        // A GET with a chunked body: unframed, it would be read as a request of its own.
        {
          path: '/echo/outer',
          headers: { 'x-api-key': key.key, 'Transfer-Encoding': 'chunked' },
          body: [Buffer.from(inner)],
        },
        // Content-Length named in Connection, so that a proxy would drop it.
        {
          method: 'DELETE',
          path: '/echo/outer',
          headers: {
            'x-api-key': key.key,
            'Content-Length': String(inner.length),
            Connection: 'keep-alive, content-length',
          },
          body: Buffer.from(inner),
        },
      ];
      for (const attempt of attempts) {
        const before = upstream.seen.length;
        const reply = await call(port, attempt);
        expect(reply.status).toBe(200);
        // Give a smuggled request time to arrive, if one was sent.
        await new Promise((resolve) => setTimeout(resolve, 100));
        const seen = upstream.seen.slice(before);
        expect(seen.map((r) => r.url)).toEqual(['/base/echo/outer']);
        expect(seen[0].bodyBytes).toBe(inner.length);
      }
    });

    it('bounds the wait for the answer, not the time the upload takes', async () => {
      // 1,000 ms of timeout; the body takes ~1,600 ms to arrive, then the answer comes at once.
      const key = await createKey(target.http, owner.masterKey, 'slow upload');
      const reply = await new Promise<Reply>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/sink',
            agent: false,
            headers: { 'x-api-key': key.key, 'Content-Length': '8' },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: Buffer.concat(chunks),
              }),
            );
          },
        );
        req.on('error', reject);
        let sent = 0;
        const tick = setInterval(() => {
          req.write('ab');
          if (++sent === 4) {
            clearInterval(tick);
            req.end();
          }
        }, 400);
      });
      expect(reply.status).toBe(200);
      expect(reply.body.toString()).toBe('8');
    });

    it('asks for a Content-Length from a key with a volume quota, before consuming anything', async () => {
      const created = await target.http
        .post('/1.0/keys')
        .set(master())
        .send({ name: 'volume quota', quota: { volumeBytes: 1000, period: 'month' } })
        .expect(200);
      const headers = { 'x-api-key': created.body.key as string };
      const chunked = await call(port, {
        method: 'POST',
        path: '/sink',
        headers: { ...headers, 'Transfer-Encoding': 'chunked' },
        body: [Buffer.alloc(5000)],
      });
      expect(chunked.status).toBe(411);
      expect(json(chunked)).toMatchObject({ statusCode: 411, error: 'Length Required' });
      const declared = await call(port, {
        method: 'POST',
        path: '/sink',
        headers: { ...headers, 'Content-Length': '600' },
        body: Buffer.alloc(600),
      });
      expect(declared.status).toBe(200);
      const over = await call(port, {
        method: 'POST',
        path: '/sink',
        headers: { ...headers, 'Content-Length': '600' },
        body: Buffer.alloc(600),
      });
      expect(json(over)).toMatchObject({ statusCode: 429, code: 'USAGE_EXCEEDED' });
    });

    it('stops an upload the upstream has answered, and meters what was forwarded', async () => {
      const key = await createKey(target.http, owner.masterKey, 'early answers');
      const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/early',
          agent: false,
          headers: { 'x-api-key': key.key, 'Content-Length': '100000000' },
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
        // 64 KiB every 10 ms: far from done when the answer comes.
        const tick = setInterval(() => {
          if (!req.write(patternChunk(0, 65_536))) clearInterval(tick);
        }, 10);
        req.on('close', () => clearInterval(tick));
      });
      expect(reply).toEqual({ status: 200, body: 'early' });
      await eventually('the exchange to end', () => target.app.get(GatewayServer).inFlight === 0);
      const { totals } = await traffic(key.id);
      expect(totals).toMatchObject({ count: 1, volumeOut: 5, status2xx: 1 });
      // What went upstream before the answer, no more and no less than the gateway forwarded.
      expect(totals.volume).toBeGreaterThan(0);
      expect(totals.volume).toBeLessThan(100_000_000);
    });

    it('aborts the upstream request when the client leaves mid-download, and leaks nothing', async () => {
      const key = await createKey(target.http, owner.masterKey, 'aborts');
      const gateway = target.app.get(GatewayServer);
      for (let i = 0; i < 20; i++) {
        await new Promise<void>((resolve) => {
          const req = http.request(
            {
              host: '127.0.0.1',
              port,
              path: '/bytes/50000000',
              agent: false,
              headers: { 'x-api-key': key.key },
            },
            (res) => {
              res.once('data', () => {
                req.destroy();
                resolve();
              });
            },
          );
          req.on('error', () => undefined);
          req.on('close', () => resolve());
          req.end();
        });
      }
      await eventually('every exchange to end', () => gateway.inFlight === 0);
      // The upstream's sockets of the aborted downloads are closed, not kept streaming.
      await eventually('the upstream sockets to close', () => upstream.openSockets() <= 8);
      const { totals } = await traffic(key.id);
      expect(totals.count).toBe(20);
      expect(totals.status2xx).toBe(20);
    });
  });
}

describe('gateway mode with no upstream listening', () => {
  let target: TestApp;
  beforeAll(async () => {
    const closed = await freePort();
    target = await startApp('sqlite', {
      env: { GATEWAY_UPSTREAM: `http://127.0.0.1:${closed}`, GATEWAY_PORT: '0' },
    });
  });
  afterAll(() => target?.close());

  it('answers 502 with the envelope and no internal detail, meters the use, and documents the figures', async () => {
    const owner = await account(target.http);
    const key = await createKey(target.http, owner.masterKey, 'no upstream');
    const port = target.app.get(GatewayServer).port!;
    const reply = await call(port, { path: '/anything', headers: { 'x-api-key': key.key } });
    expect(reply.status).toBe(502);
    expect(json(reply)).toEqual({
      success: false,
      statusCode: 502,
      error: 'Bad Gateway',
      message: 'the upstream API could not be reached',
    });
    await target.app.get(UsageMeter).flush();
    const list = await target.http.get('/1.0/keys').set({ Authorization: basic(owner.masterKey) });
    const listed = (list.body.keys as { id: string }[]).find((k) => k.id === key.id);
    expect(listed).toMatchObject({ usageCount: 1, volumeOut: reply.body.length });
    const metrics = await target.http
      .get('/metrics')
      .set({ Authorization: basic(owner.masterKey) });
    const doc = (await target.http.get('/docs-json').expect(200)).body as {
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    const point = Object.keys(doc.components.schemas.UsagePointDto.properties);
    expect(point).toEqual(
      expect.arrayContaining([
        'volumeOut',
        'status2xx',
        'status5xx',
        'latencyMsAvg',
        'latencyMsMax',
      ]),
    );
    expect(doc.components.schemas.KeyDto.properties.volumeOut).toBeDefined();
    expect(doc.components.schemas.MeDto.properties.volumeOut).toBeDefined();
    expect(metrics.text).toMatch(
      /keymeter_gateway_upstream_errors_total\{upstream="127\.0\.0\.1:\d+",reason="refused"\} 1/,
    );
    expect(metrics.text).toMatch(
      /keymeter_gateway_requests_total\{upstream="127\.0\.0\.1:\d+",status_class="5xx"\} 1/,
    );
  });
});
