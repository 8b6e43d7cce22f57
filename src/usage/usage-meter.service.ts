import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { PrismaService } from '../prisma/prisma.service';
import { Answer, MinuteTraffic, PendingUsage } from './pending-usage';
import { MINUTE_MS } from './time';
import { ReadWriteGate } from './read-write-gate';
import { FlushExtension, UsageRepository } from './usage.repository';

/** What a read adds on top of the database: counted here, not yet written. */
export interface UnflushedUsage {
  count: number;
  volume: number;
  volumeOut: number;
  lastUsedMs: number | null;
  /** [minute start in epoch ms, count, volume] */
  minutes: [number, number, number][];
  /** [minute start in epoch ms, the answers in it], for the minutes that have answers. */
  traffic: [number, MinuteTraffic][];
}

/** Consecutive failed flushes after which keys are written one by one. */
const ISOLATE_AFTER_FAILURES = 3;

/** Never flush back to back: a slow database gets at least this much rest between flushes. */
const MIN_FLUSH_GAP_MS = 10;

/** The share of the interval kept in reserve for a flush that takes longer than the last. */
const FLUSH_MARGIN = 0.05;

/**
 * Delay from the end of a flush that took `tookMs` to the start of the next one, whose timer
 * fired `lateMs` after it was due (a busy event loop runs timers late).
 */
export function nextFlushDelay(intervalMs: number, tookMs: number, lateMs = 0): number {
  const aim = intervalMs * (1 - FLUSH_MARGIN) - 2 * tookMs - lateMs;
  return Math.max(Math.min(MIN_FLUSH_GAP_MS, intervalMs), aim);
}

/**
 * The metering hot path. Each use is added to an in-memory buffer; a timer writes the buffer
 * every USAGE_FLUSH_INTERVAL_MS in one transaction. A failed write puts its counts back for the
 * next one. A buffer holding too many minute buckets flushes early. With an interval of 0,
 * every use is written before the request goes on (strict mode).
 */
@Injectable()
export class UsageMeter implements OnModuleInit {
  private readonly logger = new Logger(UsageMeter.name);
  private readonly pending = new PendingUsage();
  /** Requests refused by a limit, per key and epoch minute: counted apart, not as uses. */
  private refusals = new Map<string, Map<number, number>>();
  private readonly gate = new ReadWriteGate();
  private flushing: Promise<void> | null = null;
  /** Buckets of the batch being written: taken from `pending`, not yet committed. */
  private writingBuckets = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Strict mode: answers being written (the drain waits for them), and a retry of failed ones. */
  private readonly strictAnswers = new Set<Promise<void>>();
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;
  readonly strict: boolean;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly usage: UsageRepository,
    prisma: PrismaService,
  ) {
    this.strict = config.usageFlushIntervalMs === 0;
    // The last flush must happen after the HTTP server has finished its requests and before
    // the database connection closes: PrismaService runs this just before it disconnects.
    prisma.beforeDisconnect(() => this.drain());
  }

  onModuleInit(): void {
    if (this.strict) return;
    this.scheduleFlush(this.config.usageFlushIntervalMs);
  }

  /**
   * Flushes on a timer that aims each commit at a little less than one interval after the
   * previous batch was taken: the next flush starts `95 % of the interval − 2 × (last flush's
   * duration) − (how late its timer fired)` after the last one ended. So what a crash can lose,
   * the uses since the last committed batch was taken, stays within one interval.
   */
  private scheduleFlush(delayMs: number): void {
    if (this.stopped) return;
    const due = performance.now() + delayMs;
    this.timer = setTimeout(() => {
      const started = performance.now();
      void this.flush().then(() => {
        const took = performance.now() - started;
        const interval = this.config.usageFlushIntervalMs;
        this.scheduleFlush(nextFlushDelay(interval, took, Math.max(0, started - due)));
      });
    }, delayMs);
    this.timer.unref();
  }

  /** Adds a feature's work to every flush's transaction (see FlushExtension). */
  extendFlush(extension: FlushExtension): void {
    this.usage.extend(extension);
  }

  /** (key, minute) buckets counted and not yet committed, including a batch being written. */
  get pendingBuckets(): number {
    return this.pending.bucketCount + this.writingBuckets;
  }

  /** Counts one use of a key. Returns a promise only in strict mode (the write itself). */
  record(keyId: string, volume: number, atMs = Date.now()): Promise<void> | undefined {
    if (this.strict) {
      const one = new PendingUsage();
      one.add(keyId, 1, volume, atMs);
      return this.usage.addUsage(one.take());
    }
    this.pending.add(keyId, 1, volume, atMs);
    if (this.pending.bucketCount >= this.config.usageMaxPendingBuckets) void this.flush();
    return undefined;
  }

  /**
   * Records how a key's request was answered (bytes out, status, latency), with `count` 1 when
   * the use itself is counted now too (the gateway counts a use once its exchange is over; the
   * API counts it on admission and its answer here). Written by the same flush as the uses; in
   * strict mode at once, before the promise resolves.
   */
  answered(
    keyId: string,
    count: number,
    volume: number,
    answer: Answer,
    atMs = Date.now(),
  ): Promise<void> | undefined {
    if (this.strict) {
      const one = new PendingUsage();
      one.answered(keyId, count, volume, answer, atMs);
      const batch = one.take();
      // Nothing waits for an answer's write but the drain; one that fails is kept and written
      // by a flush a second later (strict mode has no timer of its own).
      const write = this.usage.addUsage(batch).catch((error: unknown) => {
        this.pending.restore(batch);
        this.retryStrictSoon(error);
      });
      this.strictAnswers.add(write);
      void write.finally(() => this.strictAnswers.delete(write));
      return write;
    }
    this.pending.answered(keyId, count, volume, answer, atMs);
    if (this.pending.bucketCount >= this.config.usageMaxPendingBuckets) void this.flush();
    return undefined;
  }

  /**
   * Counts a request refused by the key's rate limit or quota. Written with the usage, by the
   * same flush (in strict mode at once); a refused request is not a use of the key.
   */
  refused(keyId: string, atMs = Date.now()): Promise<void> | undefined {
    const minute = Math.floor(atMs / MINUTE_MS);
    if (this.strict) return this.usage.addRefusals(new Map([[keyId, new Map([[minute, 1]])]]));
    addRefusals(this.refusals, keyId, minute, 1);
    return undefined;
  }

  /** Refusals of a key counted here and not yet written, by epoch minute (within consistentRead). */
  unflushedRefusals(keyId: string): ReadonlyMap<number, number> | undefined {
    return this.refusals.get(keyId);
  }

  private get isIdle(): boolean {
    return this.pending.isEmpty && this.refusals.size === 0;
  }

  /**
   * Writes what is pending when it is called: after a write already running, another one for
   * what arrived since. Resolves once that is done (or has failed and been put back).
   */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.isIdle) return;
    this.flushing = this.writePending().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /**
   * Runs a read that combines database rows with unflushed(): no flush commits while it runs,
   * so a batch is counted either in the database or in memory, never both or neither.
   */
  consistentRead<T>(read: () => Promise<T>): Promise<T> {
    return this.gate.read(read);
  }

  private async writePending(): Promise<void> {
    try {
      // Taking, writing and putting back all happen inside the gate, so a consistent read
      // sees each use exactly once: in memory or in the database.
      await this.gate.write(async () => {
        this.writingBuckets = this.pending.bucketCount;
        const batch = this.pending.take();
        // After repeated failures, write key by key, so that one key whose write keeps failing
        // cannot hold back every other key's usage.
        const parts =
          this.failures >= ISOLATE_AFTER_FAILURES && batch.size > 1
            ? [...batch].map((entry) => new Map([entry]))
            : [batch];
        let failed: unknown = null;
        let written = 0;
        for (const [index, part] of parts.entries()) {
          // Two failures before any success: the database itself is failing, not one key.
          if (failed !== null && written === 0 && index >= 2) {
            this.pending.restore(part);
            continue;
          }
          try {
            await this.usage.addUsage(part);
            written++;
          } catch (error) {
            this.pending.restore(part);
            failed ??= error;
          }
        }
        this.writingBuckets = 0;
        const refusals = this.refusals;
        this.refusals = new Map();
        try {
          if (refusals.size > 0) await this.usage.addRefusals(refusals);
        } catch (error) {
          for (const [keyId, minutes] of refusals) {
            for (const [minute, count] of minutes) addRefusals(this.refusals, keyId, minute, count);
          }
          failed ??= error;
        }
        if (failed !== null) throw failed;
      });
      if (this.failures > 0) {
        this.logger.log(`usage written again after ${this.failures} failed flush(es)`);
      }
      this.failures = 0;
    } catch (error) {
      this.failures++;
      if (this.failures === 1 || this.failures % 60 === 0) {
        // Prisma's messages can carry pages of context: the last line says what happened.
        const message = (error instanceof Error ? error.message : String(error)).trim();
        this.logger.error(
          `could not write usage (${this.failures} attempt(s); kept in memory, retrying): ${message.split('\n').pop()}`,
        );
      }
    }
  }

  /** Strict mode: a flush of answers whose own write failed, a second from now. */
  private retryStrictSoon(error: unknown): void {
    if (this.retryTimer !== undefined || this.stopped) return;
    this.logger.error(`could not write an answer's traffic (retrying in 1 s): ${String(error)}`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush().then(() => {
        if (!this.pending.isEmpty) this.retryStrictSoon('still failing');
      });
    }, 1000);
    this.retryTimer.unref();
  }

  /** Stops the timer and writes everything, retrying a few times (graceful shutdown). */
  async drain(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    await Promise.all([...this.strictAnswers]);
    for (let attempt = 0; attempt < 5; attempt++) {
      await this.flush();
      if (this.isIdle) return;
      await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
    }
    this.logger.error(`shutting down with ${this.pending.bucketCount} minute bucket(s) unwritten`);
  }

  /** Usage of one key that reads must add to the database's (call within consistentRead). */
  unflushed(keyId: string): UnflushedUsage | null {
    const usage = this.pending.get(keyId);
    if (!usage) return null;
    const minutes: [number, number, number][] = [];
    const traffic: [number, MinuteTraffic][] = [];
    for (const [minute, b] of usage.minutes) {
      minutes.push([minute * MINUTE_MS, b.count, b.volume]);
      if (b.traffic) traffic.push([minute * MINUTE_MS, b.traffic]);
    }
    const { count, volume, volumeOut, lastUsedMs } = usage;
    return { count, volume, volumeOut, lastUsedMs, minutes, traffic };
  }

  /** A deleted key's pending usage has nowhere to go. */
  forget(keyId: string): void {
    this.pending.forget(keyId);
    this.refusals.delete(keyId);
  }
}

function addRefusals(
  into: Map<string, Map<number, number>>,
  keyId: string,
  minute: number,
  count: number,
): void {
  let minutes = into.get(keyId);
  if (minutes === undefined) {
    minutes = new Map();
    into.set(keyId, minutes);
  }
  minutes.set(minute, (minutes.get(minute) ?? 0) + count);
}
