import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST the receiver got. */
export interface Received {
  id: string;
  timestamp: number;
  signatures: string[];
  body: string;
  json: { id: string; type: string; createdAt: string; data: Record<string, unknown> };
  at: number;
  /** What the receiver answered. */
  status: number;
}

/**
 * A webhook receiver on loopback: records every request and answers with `status` (settable per
 * test, or a function of the request). Verifies nothing itself: see verify().
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  connections = 0;
  status: number | ((r: Omit<Received, 'status'>) => number) = 200;
  /** Delay before answering, ms. */
  delayMs = 0;
  /** Requests being answered now, and the most at once. */
  inFlight = 0;
  maxInFlight = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on('close', () => this.inFlight--);
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const base = {
        id: String(req.headers['webhook-id']),
        timestamp: Number(req.headers['webhook-timestamp']),
        signatures: String(req.headers['webhook-signature'] ?? '').split(' '),
        body,
        json: JSON.parse(body) as Received['json'],
        at: Date.now(),
      };
      const status = typeof this.status === 'function' ? this.status(base) : this.status;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.received.push({ ...base, status });
        res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
      }, this.delayMs);
      this.timers.add(timer);
    });
  });

  constructor() {
    this.server.on('connection', () => this.connections++);
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  ofType(type: string): Received[] {
    return this.received.filter((r) => r.json.type === type);
  }

  /** Waits until `predicate` holds of what was received (polling), or fails after timeoutMs. */
  async until(predicate: (received: Received[]) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.received)) {
      if (Date.now() > deadline) {
        throw new Error(
          `receiver: condition not met in ${timeoutMs} ms; got ${this.received.length}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * The Standard Webhooks check, written from the specification (not from src/): the signed
 * content is `{id}.{timestamp}.{body}`, the key the base64 after `whsec_`, each signature
 * `v1,<base64 HMAC-SHA256>`. True when one of the signatures is the secret's.
 */
export function verify(secret: string, received: Received, toleranceSeconds = 300): boolean {
  if (Math.abs(Date.now() / 1000 - received.timestamp) > toleranceSeconds) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key)
    .update(`${received.id}.${received.timestamp}.${received.body}`)
    .digest();
  return received.signatures.some((s) => {
    const [version, mac] = s.split(',');
    if (version !== 'v1' || !mac) return false;
    const given = Buffer.from(mac, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
