import { MINUTE_MS } from './time';

/**
 * Usage counted in memory and not yet written: per key, its totals and per-minute buckets.
 * Pure data structure (no I/O) so that the metering arithmetic is unit-tested on its own.
 */
export interface MinuteUsage {
  count: number;
  volume: number;
}

export interface KeyUsage {
  count: number;
  volume: number;
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
    let key = this.keys.get(keyId);
    if (key === undefined) {
      key = { count: 0, volume: 0, lastUsedMs: atMs, minutes: new Map() };
      this.keys.set(keyId, key);
    }
    key.count += count;
    key.volume += volume;
    if (atMs > key.lastUsedMs) key.lastUsedMs = atMs;
    const minute = Math.floor(atMs / MINUTE_MS);
    const bucket = key.minutes.get(minute);
    if (bucket === undefined) {
      key.minutes.set(minute, { count, volume });
      this.minuteCount++;
    } else {
      bucket.count += count;
      bucket.volume += volume;
    }
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
        this.add(keyId, bucket.count, bucket.volume, minute * MINUTE_MS);
      }
      // add() set lastUsedMs from minute starts; the exact instant is the one that counts.
      const key = this.keys.get(keyId);
      if (key && usage.lastUsedMs > key.lastUsedMs) key.lastUsedMs = usage.lastUsedMs;
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
