import http, { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream';
import { AccessGate } from '../access/access-gate';
import { extractKey } from '../access/credentials';
import type { KeyAccess } from '../access/key-access.repository';
import { Refusal } from '../access/refusal';
import { challenge, envelope } from '../common/filters/all-exceptions.filter';
import type { GatewayConfig } from '../config/config';
import { databaseErrorAnswer } from '../prisma/database-errors';
import type { Answer } from '../usage/pending-usage';
import { UsageMeter } from '../usage/usage-meter.service';
import {
  clientResponseHeaders,
  DistinctHeaders,
  ForwardedFor,
  outgoing,
  responseHead,
  upstreamPath,
  upstreamRequestHeaders,
} from './forwarding';
import { ActiveExchanges } from './active-exchanges';
import { GatewayMetrics, upstreamFault, UpstreamFault } from './gateway-metrics';

/** An answer keymeter itself gives on the gateway port: a status and the envelope's bytes. */
interface OwnAnswer {
  status: number;
  body: Buffer;
  headers: Record<string, string>;
}

const json = (status: number, message: string, code?: string): Buffer =>
  Buffer.from(JSON.stringify({ ...envelope(status, message), ...(code ? { code } : {}) }));

/** Envelopes built once per refusal: a flood of bad keys costs no serialisation. */
const REFUSAL_BODIES = new Map<Refusal, Buffer>();

function refusalBody(refusal: Refusal): Buffer {
  let body = REFUSAL_BODIES.get(refusal);
  if (!body) {
    body = json(refusal.status, refusal.message, refusal.inEnvelope ? refusal.code : undefined);
    REFUSAL_BODIES.set(refusal, body);
  }
  return body;
}

/** Methods whose request may be sent again when a reused connection turns out to be closed. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT']);

const LENGTH_REQUIRED: OwnAnswer = {
  status: 411,
  body: json(
    411,
    'this key has a volume quota: send the request body with a Content-Length, not chunked',
  ),
  headers: {},
};

/** How long a tunnel stays half-open after one side has ended it. */
const TUNNEL_LINGER_MS = 2000;

const SHUTTING_DOWN: OwnAnswer = {
  status: 503,
  body: json(503, 'the gateway is shutting down; retry on another instance'),
  headers: { 'Retry-After': '1' },
};

/** Whether a request has a body to stream (RFC 9112 §6.3: a length, or a transfer coding). */
function hasBody(request: IncomingMessage): boolean {
  const { headers } = request;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/** The request body's declared size: what a volume quota is judged by before it streams. */
function declaredBytes(request: IncomingMessage): number {
  const length = Number(request.headers['content-length']);
  return Number.isSafeInteger(length) && length > 0 ? length : 0;
}

/** Headers set before the answer is known (RateLimit, Retry-After), for a raw upgrade answer. */
class HeaderBag {
  readonly headers: Record<string, string> = {};
  setHeader(name: string, value: number | string | readonly string[]): this {
    this.headers[name.toLowerCase()] = String(value);
    return this;
  }
}

/**
 * Gateway mode's forwarding: each request on the gateway port is admitted by the AccessGate
 * (the same keys, refusals and limits as keymeter's API), forwarded to the upstream with the key
 * removed and the key's identity added, and streamed back both ways without buffering. When
 * the exchange is over (answered, failed or cut off) one use is recorded with its bytes in and
 * out, the status the client got and the upstream's latency to its response headers.
 *
 * Built on node:http: a pooled keep-alive Agent, stream.pipeline for uploads and pipe() for
 * answers (README, "Gateway mode",
 * says why no proxy library).
 */
export class GatewayProxy {
  private readonly agent: http.Agent;
  private readonly send: typeof http.request;
  private readonly upstreamHost: string;
  private readonly upstreamOrigin: { protocol: string; hostname: string; port: string };

  constructor(
    private readonly config: GatewayConfig,
    private readonly gate: AccessGate,
    private readonly meter: UsageMeter,
    private readonly metrics: GatewayMetrics,
    private readonly active: ActiveExchanges,
  ) {
    const secure = config.upstream.protocol === 'https:';
    // No cap on concurrent upstream connections (long polls and streams must not queue others);
    // idle ones close after 4 s, before the upstream's own idle timeout is likely to close them.
    const options = { keepAlive: true, maxFreeSockets: 256, timeout: 4000, scheduling: 'lifo' };
    this.agent = secure
      ? new https.Agent(options as https.AgentOptions)
      : new http.Agent(options as http.AgentOptions);
    this.send = secure ? https.request : http.request;
    this.upstreamHost = config.upstream.host;
    const { protocol, hostname, port } = config.upstream;
    // URL keeps IPv6 literals in brackets; the socket wants the bare address.
    this.upstreamOrigin = { protocol, hostname: hostname.replace(/^\[|\]$/g, ''), port };
  }

  /** Pooled sockets are closed: after the server has stopped (shutdown). */
  close(): void {
    this.agent.destroy();
  }

  /** The server's 'request' and 'checkContinue' listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    // An exchange is in flight until it is recorded: a forwarded one may outlive its response
    // (its upload still being forwarded), any other ends with its response.
    const exchange = { done: this.active.begin(), forwarded: false };
    res.once('close', () => {
      if (!exchange.forwarded) exchange.done();
    });
    if (this.active.draining) res.setHeader('Connection', 'close');
    const credential = extractKey(req.headers, req.rawHeaders);
    const admit = (): void => {
      const key = this.gate.authorize(credential, 'any-key', declaredBytes(req), res);
      if (key instanceof Promise) {
        key.then(
          (found) => this.forwardOrRefuse(req, res, found, started, exchange),
          (error: unknown) => this.answer(req, res, this.lookupFailure(error)),
        );
      } else {
        this.forwardOrRefuse(req, res, key, started, exchange);
      }
    };
    if (req.headers['content-length'] !== undefined || !req.headers['transfer-encoding']) {
      admit();
      return;
    }
    // A body of unknown length cannot be held to a volume quota before it streams: such a key
    // must declare it. Asked before admission, so the refusal consumes nothing.
    const found = this.gate.find(credential);
    const judge = (key: KeyAccess | Refusal): void => {
      if (!(key instanceof Refusal) && key.limits?.quota?.volumeBytes != null) {
        this.answer(req, res, LENGTH_REQUIRED);
      } else {
        admit();
      }
    };
    if (found instanceof Promise) {
      found.then(judge, (error: unknown) => this.answer(req, res, this.lookupFailure(error)));
    } else {
      judge(found);
    }
  };

  private forwardOrRefuse(
    req: IncomingMessage,
    res: ServerResponse,
    key: KeyAccess | Refusal,
    started: number,
    exchange: { done: () => void; forwarded: boolean },
  ): void {
    if (key instanceof Refusal) {
      this.answer(req, res, this.refusal(req, key));
      return;
    }
    // The client left while its key was looked up: nothing to forward.
    if (res.destroyed) return;
    exchange.forwarded = true;
    this.forward(req, res, key, started, 0, exchange.done);
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    key: KeyAccess,
    started: number,
    retries: number,
    done: () => void,
  ): void {
    let bytesIn = 0;
    let bytesOut = 0;
    let latencyUs = 0;
    let responded = false;
    let fault: UpstreamFault | null = null;
    const upstream = this.send({
      ...this.upstreamOrigin,
      agent: this.agent,
      method: req.method,
      path: upstreamPath(this.config.upstream.pathname, req.url ?? '/'),
      headers: outgoing(
        upstreamRequestHeaders(req.headersDistinct, this.forwardedFor(req, key), {
          upgrade: false,
        }),
      ),
    });
    const timeOut = (): void => {
      fault = 'timeout';
      upstream.destroy();
    };
    // GATEWAY_TIMEOUT_MS bounds the wait for the response headers once the request is sent;
    // while a body is being sent (a slow upload, 100-continue), the upstream connection must
    // not stay silent for as long.
    const withBody = hasBody(req) && retries === 0;
    let headersTimer: NodeJS.Timeout | undefined;
    if (withBody) {
      upstream.setTimeout(this.config.timeoutMs, timeOut);
      upstream.once('finish', () => {
        if (!responded) headersTimer = setTimeout(timeOut, this.config.timeoutMs);
      });
    } else {
      headersTimer = setTimeout(timeOut, this.config.timeoutMs);
    }
    const settle = (): void => {
      clearTimeout(headersTimer);
      if (withBody) upstream.setTimeout(0);
    };
    let answerStream: IncomingMessage | null = null;

    // Recorded once both halves are over: the answer (sent, failed or cut off) and the request
    // body (all of it forwarded, or the client gone), so bytes in are what was forwarded.
    let halves = 2;
    const halfDone = (): void => {
      if (--halves > 0) return;
      const status = res.headersSent ? res.statusCode : 0;
      this.record(key, bytesIn, { volumeOut: bytesOut, status, latencyUs });
      done();
    };
    res.once('close', () => {
      settle();
      // Once the answer is over, what is left of the upload is wanted by no one (the upstream
      // has answered, or the client has gone): both stop, and bytes in are what was forwarded.
      if (!responded || !req.complete) {
        upstream.destroy();
        req.destroy();
      }
      // A client that left mid-body: the upstream's answer (and its socket) goes too, never
      // back to the pool half-read.
      if (answerStream !== null && !answerStream.complete) answerStream.destroy();
      halfDone();
    });

    upstream.on('continue', () => res.writeContinue());
    upstream.on('response', (upstreamResponse) => {
      settle();
      responded = true;
      latencyUs = (performance.now() - started) * 1000;
      if (res.destroyed) {
        upstreamResponse.destroy();
        return;
      }
      const status = upstreamResponse.statusCode ?? 502;
      this.metrics.answered(status, latencyUs / 1e6);
      const headers: DistinctHeaders = clientResponseHeaders(upstreamResponse.headersDistinct);
      if (this.active.draining) headers.connection = ['close'];
      for (const [name, value] of Object.entries(outgoing(headers))) res.setHeader(name, value);
      res.writeHead(status, upstreamResponse.statusMessage);
      answerStream = upstreamResponse;
      upstreamResponse.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
      upstreamResponse.on('error', () => undefined); // its end is judged on 'close'
      upstreamResponse.once('close', () => {
        if (upstreamResponse.complete || res.destroyed) return;
        // The upstream's connection broke mid-body: the client sees the body cut off.
        this.metrics.upstreamError('reset');
        res.destroy();
      });
      // pipe(), not pipeline(): half the forwarding's CPU per request on small answers
      // (bench G1's candidates); a client leaving is handled on res 'close' above.
      upstreamResponse.pipe(res);
    });
    upstream.on('error', (error) => {
      settle();
      if (res.destroyed || res.writableEnded) return; // the client left: not the upstream's fault
      if (
        fault === null &&
        retries === 0 &&
        upstream.reusedSocket &&
        !responded &&
        bytesIn === 0 &&
        req.complete &&
        IDEMPOTENT.has(req.method ?? '')
      ) {
        // A pooled connection the upstream closed just as it was reused: the request never
        // reached it, and one without a body can be sent again on a fresh connection.
        halves = Infinity; // this attempt records nothing; the next one does
        this.forward(req, res, key, started, retries + 1, done);
        return;
      }
      fault ??= upstreamFault(error);
      this.metrics.upstreamError(fault);
      if (responded || res.headersSent) {
        res.destroy(); // the upstream failed mid-body: the client sees the body cut off
        return;
      }
      latencyUs = (performance.now() - started) * 1000;
      const answer = this.upstreamFailure(fault);
      this.metrics.answered(answer.status, latencyUs / 1e6);
      bytesOut = answer.body.length;
      this.answer(req, res, answer);
    });

    if (!withBody) {
      // No body (or a retry, whose request had none): nothing to stream.
      if (retries === 0) req.resume();
      upstream.end();
      halfDone();
      return;
    }
    req.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
    // A client that leaves mid-upload destroys the upstream request (and its socket).
    pipeline(req, upstream, () => halfDone());
  }

  private record(key: KeyAccess, bytesIn: number, answer: Answer): void {
    const write = this.meter.answered(key.id, 1, bytesIn, answer);
    if (write) this.active.waitFor(write);
  }

  /** The server's 'upgrade' listener: a WebSocket (or other upgrade) through the gateway. */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const started = performance.now();
    const done = this.active.begin();
    socket.once('close', done);
    socket.on('error', () => socket.destroy());
    if (this.active.draining) {
      this.answerRaw(socket, SHUTTING_DOWN);
      return;
    }
    const bag = new HeaderBag();
    const key = this.gate.authorize(extractKey(req.headers, req.rawHeaders), 'any-key', 0, bag);
    const go = (found: KeyAccess | Refusal): void => {
      if (found instanceof Refusal) {
        this.answerRaw(socket, { ...this.refusal(req, found), headers: { ...bag.headers } });
        return;
      }
      if (socket.destroyed) return; // the client left while its key was looked up
      this.tunnel(req, socket, head, found, started, bag.headers);
    };
    if (key instanceof Promise) {
      key.then(go, (error: unknown) => this.answerRaw(socket, this.lookupFailure(error)));
    } else {
      go(key);
    }
  };

  private tunnel(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    key: KeyAccess,
    started: number,
    limitHeaders: Record<string, string>,
  ): void {
    let bytesIn = head.length;
    let bytesOut = 0;
    let latencyUs = 0;
    let status = 0;
    let upstreamSocket: Duplex | null = null;
    let fault: UpstreamFault | null = null;
    const upstream = this.send({
      ...this.upstreamOrigin,
      // An upgraded socket is never returned to a pool.
      agent: false,
      method: req.method,
      path: upstreamPath(this.config.upstream.pathname, req.url ?? '/'),
      headers: outgoing(
        upstreamRequestHeaders(req.headersDistinct, this.forwardedFor(req, key), {
          upgrade: true,
        }),
      ),
    });
    const timer = setTimeout(() => {
      fault = 'timeout';
      upstream.destroy();
    }, this.config.timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      upstream.destroy();
      upstreamSocket?.destroy();
      this.record(key, bytesIn, { volumeOut: bytesOut, status, latencyUs });
    });
    socket.on('data', (chunk: Buffer) => (bytesIn += chunk.length));

    upstream.on('upgrade', (upstreamResponse, upgraded, upstreamHead) => {
      clearTimeout(timer);
      latencyUs = (performance.now() - started) * 1000;
      status = 101;
      upstreamSocket = upgraded;
      this.metrics.answered(101, latencyUs / 1e6);
      if (socket.destroyed) {
        upgraded.destroy();
        return;
      }
      upgraded.on('error', () => upgraded.destroy());
      upgraded.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
      upgraded.once('close', () => socket.destroy());
      const headers = { ...upstreamResponse.headersDistinct };
      for (const [name, value] of Object.entries(limitHeaders)) headers[name] = [value];
      socket.write(
        responseHead(101, upstreamResponse.statusMessage ?? 'Switching Protocols', headers),
      );
      if (upstreamHead.length > 0) {
        bytesOut += upstreamHead.length;
        socket.write(upstreamHead);
      }
      if (head.length > 0) upgraded.write(head);
      socket.pipe(upgraded);
      upgraded.pipe(socket);
      // Once either side has ended, the other gets its end and a moment to finish; then both
      // close, whether or not the far side closes its own (a half-open tunnel would never be
      // recorded).
      const closeSoon = (): void => {
        setTimeout(() => {
          socket.destroy();
          upgraded.destroy();
        }, TUNNEL_LINGER_MS).unref();
      };
      socket.once('end', closeSoon);
      upgraded.once('end', closeSoon);
      this.active.hold(socket);
    });
    upstream.on('response', (upstreamResponse) => {
      // The upstream declined the upgrade: its answer goes back as it is, then the socket closes.
      clearTimeout(timer);
      latencyUs = (performance.now() - started) * 1000;
      status = upstreamResponse.statusCode ?? 502;
      this.metrics.answered(status, latencyUs / 1e6);
      const headers = clientResponseHeaders(upstreamResponse.headersDistinct);
      headers.connection = ['close'];
      socket.write(responseHead(status, upstreamResponse.statusMessage ?? '', headers));
      upstreamResponse.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
      upstreamResponse.pipe(socket);
    });
    upstream.on('error', (error) => {
      clearTimeout(timer);
      if (socket.destroyed || status !== 0) return;
      fault ??= upstreamFault(error);
      this.metrics.upstreamError(fault);
      const answer = this.upstreamFailure(fault);
      latencyUs = (performance.now() - started) * 1000;
      status = answer.status;
      bytesOut = answer.body.length;
      this.metrics.answered(status, latencyUs / 1e6);
      this.answerRaw(socket, answer);
    });
    upstream.end();
  }

  private forwardedFor(req: IncomingMessage, key: KeyAccess): ForwardedFor {
    return {
      clientAddress: req.socket.remoteAddress ?? '',
      keyId: key.id,
      keyName: key.name,
      accountId: key.accountId,
      upstreamHost: this.upstreamHost,
    };
  }

  private refusal(req: IncomingMessage, refusal: Refusal): OwnAnswer {
    const headers: Record<string, string> = {};
    if (refusal.status === 401) headers['WWW-Authenticate'] = challenge(req);
    return { status: refusal.status, body: refusalBody(refusal), headers };
  }

  /** A key lookup that failed (the database is down, on a cache miss): 503, no detail. */
  private lookupFailure(error: unknown): OwnAnswer {
    const mapped = databaseErrorAnswer(error);
    const status = mapped?.statusCode ?? 503;
    const message = mapped?.message ?? 'the key could not be checked; retry shortly';
    return { status, body: json(status, message), headers: { 'Retry-After': '1' } };
  }

  private upstreamFailure(fault: UpstreamFault): OwnAnswer {
    return fault === 'timeout'
      ? {
          status: 504,
          body: json(504, `the upstream API sent no response within ${this.config.timeoutMs} ms`),
          headers: {},
        }
      : { status: 502, body: json(502, 'the upstream API could not be reached'), headers: {} };
  }

  /** keymeter's own answer on the gateway port (a refusal, 502, 504, 503). */
  private answer(req: IncomingMessage, res: ServerResponse, answer: OwnAnswer): void {
    if (res.headersSent || res.destroyed) return;
    for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
    // A body the request still has is not read: the connection closes instead of draining it.
    if (!req.complete) res.setHeader('Connection', 'close');
    res.statusCode = answer.status;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', answer.body.length);
    res.end(answer.body);
  }

  private answerRaw(socket: Duplex, answer: OwnAnswer): void {
    if (socket.destroyed) return;
    const headers: DistinctHeaders = {};
    for (const [name, value] of Object.entries(answer.headers)) headers[name] = [value];
    headers['content-type'] = ['application/json; charset=utf-8'];
    headers['content-length'] = [String(answer.body.length)];
    headers.connection = ['close'];
    const reason = envelope(answer.status, '').error;
    socket.end(
      Buffer.concat([Buffer.from(responseHead(answer.status, reason, headers)), answer.body]),
    );
  }
}
