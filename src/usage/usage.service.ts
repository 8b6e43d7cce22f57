import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { APP_CONFIG, AppConfig } from '../config/config';
import { BucketTotals, countBuckets, minuteRange, storedUnit } from './buckets';
import { LARGE_ANSWER_POINTS, LargeAnswers } from './large-answers';
import { parseUsageRange, UsageRange, UsageRangeError } from './usage-range';
import { sendUsage } from './usage-response';
import { sendTraffic } from './traffic-response';
import { TrafficTotals } from './traffic-totals';
import { MINUTE_MS } from './time';
import { UsageMeter } from './usage-meter.service';
import { UsageRepository } from './usage.repository';

export interface UsageQuery {
  from?: string;
  to?: string;
  interval?: string;
  format?: 'json' | 'csv';
  include?: 'traffic';
}

export interface UsageTotals {
  usageCount: number;
  usageVolume: number;
  usageVolumeOut: number;
  lastUsedAt: Date | null;
}

/** Reads usage: what the database holds plus what this instance has counted but not written. */
@Injectable()
export class UsageService {
  private readonly largeAnswers: LargeAnswers;

  constructor(
    private readonly usage: UsageRepository,
    private readonly meter: UsageMeter,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.largeAnswers = new LargeAnswers(config.largeUsageAnswersInFlight);
  }

  /** Validates from/to/interval; a bad one is a 400 that says what to fix. */
  range(query: UsageQuery, now = new Date()): UsageRange {
    try {
      return parseUsageRange(query, now);
    } catch (error) {
      if (error instanceof UsageRangeError) throw new BadRequestException(error.message);
      throw error;
    }
  }

  /**
   * Answers a usage query for one key with its series as JSON or CSV. The range is checked
   * before the key is looked up, so a bad query is a 400 whatever the key: `keyId` may be a
   * lookup that runs only once the query is known to be good. Large answers are bounded in
   * number (LARGE_USAGE_ANSWERS_IN_FLIGHT; beyond, 503 with Retry-After).
   */
  async respond(
    res: Response,
    keyIds: string | string[] | (() => Promise<string | string[]>),
    query: UsageQuery,
  ): Promise<void> {
    const range = this.range(query);
    const points = countBuckets(range);
    const done = this.largeAnswers.admit(points);
    try {
      // A large answer first lets the event loop go round: with SQLite (synchronous) the work
      // of one answer would otherwise run to its end without the loop turning, so answers that
      // arrive together would run one after the other, each admitted alone, while small
      // requests wait behind all of them. After the turn, the ones past the limit are refused.
      if (points > LARGE_ANSWER_POINTS) await new Promise((resolve) => setImmediate(resolve));
      const ids = typeof keyIds === 'function' ? await keyIds() : keyIds;
      if (query.include === 'traffic') {
        const [usage, refused, traffic] = await Promise.all([
          this.series(ids, range),
          this.refusedSeries(ids, range),
          this.trafficSeries(ids, range),
        ]);
        sendTraffic(res, { usage, refused, traffic }, query.format);
        return;
      }
      await sendUsage(res, await this.series(ids, range), query.format);
    } finally {
      done();
    }
  }

  /**
   * A key's usage per bucket over the range: ascending, zero-filled, from the coarsest stored
   * rows that tile the buckets (minutes for minutes, the hourly rollup for the rest).
   */
  /** The usage of one key, or of several summed bucket by bucket (a roll lineage). */
  series(keyIds: string | string[], range: UsageRange): Promise<BucketTotals> {
    const ids = typeof keyIds === 'string' ? [keyIds] : keyIds;
    return this.meter.consistentRead(async () => {
      const totals = new BucketTotals(range);
      for (const id of ids) await this.addSeries(totals, id, range);
      return totals;
    });
  }

  /** Requests refused by the keys' limits per bucket (in each bucket's count), stored and not. */
  refusedSeries(keyIds: string | string[], range: UsageRange): Promise<BucketTotals> {
    const ids = typeof keyIds === 'string' ? [keyIds] : keyIds;
    const { fromMinute, toMinute } = minuteRange(range);
    return this.meter.consistentRead(async () => {
      const totals = new BucketTotals(range);
      for (const id of ids) {
        for (const [minute, count] of await this.usage.refusedMinutes(id, fromMinute, toMinute)) {
          totals.add(minute * MINUTE_MS, count, 0);
        }
        for (const [minute, count] of this.meter.unflushedRefusals(id) ?? []) {
          totals.add(minute * MINUTE_MS, count, 0);
        }
      }
      return totals;
    });
  }

  /** How the keys' requests were answered, per bucket (bytes out, statuses, latency). */
  trafficSeries(keyIds: string | string[], range: UsageRange): Promise<TrafficTotals> {
    const ids = typeof keyIds === 'string' ? [keyIds] : keyIds;
    const { fromMinute, toMinute } = minuteRange(range);
    return this.meter.consistentRead(async () => {
      const totals = new TrafficTotals(range);
      for (const id of ids) {
        const unit = storedUnit(range.interval);
        for (const [minute, traffic] of await this.usage.trafficMinutes(
          id,
          fromMinute,
          toMinute,
          unit,
        )) {
          totals.add(minute * MINUTE_MS, traffic);
        }
        for (const [start, traffic] of this.meter.unflushed(id)?.traffic ?? []) {
          totals.add(start, traffic);
        }
      }
      return totals;
    });
  }

  /** Runs a read of keys whose totals go through totals(), without a flush committing midway. */
  consistently<T>(read: () => Promise<T>): Promise<T> {
    return this.meter.consistentRead(read);
  }

  private async addSeries(totals: BucketTotals, keyId: string, range: UsageRange): Promise<void> {
    const { fromMinute, toMinute } = minuteRange(range);
    const stored = await this.usage.stored(keyId, storedUnit(range.interval), fromMinute, toMinute);
    const { starts, counts, volumes } = stored;
    for (let i = 0; i < starts.length; i++) totals.add(starts[i], counts[i], volumes[i]);
    // What this instance has counted and not yet written, exactly once: consistentRead keeps
    // a flush from committing while this runs.
    for (const [start, count, volume] of this.meter.unflushed(keyId)?.minutes ?? []) {
      totals.add(start, count, volume);
    }
  }

  /** A key's stored totals with this instance's unwritten usage added (inside consistently). */
  totals<T extends UsageTotals & { id: string }>(key: T): T {
    const unflushed = this.meter.unflushed(key.id);
    if (!unflushed) return key;
    const last = key.lastUsedAt?.getTime() ?? 0;
    return {
      ...key,
      usageCount: key.usageCount + unflushed.count,
      usageVolume: key.usageVolume + unflushed.volume,
      usageVolumeOut: key.usageVolumeOut + unflushed.volumeOut,
      lastUsedAt:
        unflushed.lastUsedMs !== null && unflushed.lastUsedMs > last
          ? new Date(unflushed.lastUsedMs)
          : key.lastUsedAt,
    };
  }
}
