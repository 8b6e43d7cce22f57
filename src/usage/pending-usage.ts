import { MINUTE_MS } from './time';

/**
 * Usage counted in memory and not yet written: per key, its totals and per-minute buckets.
 * Pure data structure (no I/O) so that the metering arithmetic is unit-tested on its own.
 */
export interface MinuteUsage {
  count: number;
  volume: number;
  /** What the answers in this minute were; absent until one is recorded. */
  traffic?: MinuteTraffic;
}

/** One answered request: what went back to the client, and how long the answer took. */
export interface Answer {
  /** Response body bytes sent to the client. */
  volumeOut: number;
  /** The status sent; 0 when the client went away before any was. */
  status: number;
  /** µs: in the gateway, to the upstream's response headers; on the API, to the answer's end. */
  latencyUs: number;
}

/** The answers of one (key, minute): sums, and the worst latency, so merges stay exact. */
export interface MinuteTraffic {
  volumeOut: number;
  /** Answers with a status (1xx included): the latency sum's denominator. */
  responses: number;
  status2xx: number;
  status3xx: number;
  status4xx: number;
  status5xx: number;
  latencyUsSum: number;
  latencyUsMax: number;
}

export const emptyTraffic = (): MinuteTraffic => ({
  volumeOut: 0,
  responses: 0,
  status2xx: 0,
  status3xx: 0,
  status4xx: 0,
  status5xx: 0,
  latencyUsSum: 0,
  latencyUsMax: 0,
});

/** Adds one answer to `into`. */
export function addAnswer(into: MinuteTraffic, answer: Answer): void {
  into.volumeOut += answer.volumeOut;
  const { status } = answer;
  if (status < 100) return;
  into.responses++;
  if (status >= 200 && status < 300) into.status2xx++;
  else if (status >= 300 && status < 400) into.status3xx++;
  else if (status >= 400 && status < 500) into.status4xx++;
  else if (status >= 500) into.status5xx++;
  const latency = Math.max(0, Math.round(answer.latencyUs));
  into.latencyUsSum += latency;
  if (latency > into.latencyUsMax) into.latencyUsMax = latency;
}

/** Adds `from` to `into`: sums add, the worst latency is the worse of the two. */
export function mergeTraffic(into: MinuteTraffic, from: MinuteTraffic): void {
  into.volumeOut += from.volumeOut;
  into.responses += from.responses;
  into.status2xx += from.status2xx;
  into.status3xx += from.status3xx;
  into.status4xx += from.status4xx;
  into.status5xx += from.status5xx;
  into.latencyUsSum += from.latencyUsSum;
  if (from.latencyUsMax > into.latencyUsMax) into.latencyUsMax = from.latencyUsMax;
}

export interface KeyUsage {
  count: number;
  volume: number;
  /** Response body bytes of the answers recorded (the key's volumeOut total). */
  volumeOut: number;
  /** Epoch ms of the latest use. */
  lastUsedMs: number;
  /** Epoch minute → usage in that minute. */
  minutes: Map<number, MinuteUsage>;
}

export class PendingUsage {
  private keys = new Map<string, KeyUsage>();
  private minuteCount = 0;

  /** Minute buckets held: what bounds the buffer's memory. */
  get bucketCount(): number {
    return this.minuteCount;
  }

  get isEmpty(): boolean {
    return this.keys.size === 0;
  }

  add(keyId: string, count: number, volume: number, atMs: number): void {
    this.bucket(keyId, count, volume, atMs);
  }

  /** Adds an answer to a key's request; `count` 1 when the use itself is counted with it. */
  answered(keyId: string, count: number, volume: number, answer: Answer, atMs: number): void {
    const bucket = this.bucket(keyId, count, volume, atMs);
    addAnswer((bucket.traffic ??= emptyTraffic()), answer);
    this.keys.get(keyId)!.volumeOut += answer.volumeOut;
  }

  private bucket(keyId: string, count: number, volume: number, atMs: number): MinuteUsage {
    let key = this.keys.get(keyId);
    if (key === undefined) {
      key = { count: 0, volume: 0, volumeOut: 0, lastUsedMs: atMs, minutes: new Map() };
      this.keys.set(keyId, key);
    }
    key.count += count;
    key.volume += volume;
    if (atMs > key.lastUsedMs) key.lastUsedMs = atMs;
    const minute = Math.floor(atMs / MINUTE_MS);
    let bucket = key.minutes.get(minute);
    if (bucket === undefined) {
      bucket = { count, volume };
      key.minutes.set(minute, bucket);
      this.minuteCount++;
    } else {
      bucket.count += count;
      bucket.volume += volume;
    }
    return bucket;
  }

  get(keyId: string): KeyUsage | undefined {
    return this.keys.get(keyId);
  }

  /** Hands over everything held and starts empty. */
  take(): Map<string, KeyUsage> {
    const taken = this.keys;
    this.keys = new Map();
    this.minuteCount = 0;
    return taken;
  }

  /** Puts back what a failed write took, adding to whatever arrived since. */
  restore(taken: Map<string, KeyUsage>): void {
    for (const [keyId, usage] of taken) {
      for (const [minute, bucket] of usage.minutes) {
        const into = this.bucket(keyId, bucket.count, bucket.volume, minute * MINUTE_MS);
        if (bucket.traffic) mergeTraffic((into.traffic ??= emptyTraffic()), bucket.traffic);
      }
      // add() set lastUsedMs from minute starts; the exact instant is the one that counts.
      const key = this.keys.get(keyId);
      if (!key) continue;
      key.volumeOut += usage.volumeOut;
      if (usage.lastUsedMs > key.lastUsedMs) key.lastUsedMs = usage.lastUsedMs;
    }
  }

  /** Drops a key's pending usage (the key was deleted). */
  forget(keyId: string): void {
    const key = this.keys.get(keyId);
    if (!key) return;
    this.minuteCount -= key.minutes.size;
    this.keys.delete(keyId);
  }
}
