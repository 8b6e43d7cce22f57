import { BadRequestException, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { BucketTotals, minuteRange, storedUnit } from './buckets';
import { parseUsageRange, UsageRange, UsageRangeError } from './usage-range';
import { sendUsage } from './usage-response';
import { UsageMeter } from './usage-meter.service';
import { UsageRepository } from './usage.repository';

export interface UsageQuery {
  from?: string;
  to?: string;
  interval?: string;
  format?: 'json' | 'csv';
}

export interface UsageTotals {
  usageCount: number;
  usageVolume: number;
  lastUsedAt: Date | null;
}

/** Reads usage: what the database holds plus what this instance has counted but not written. */
@Injectable()
export class UsageService {
  constructor(
    private readonly usage: UsageRepository,
    private readonly meter: UsageMeter,
  ) {}

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
   * lookup that runs only once the query is known to be good.
   */
  async respond(
    res: Response,
    keyId: string | (() => Promise<string>),
    query: UsageQuery,
  ): Promise<void> {
    const range = this.range(query);
    const id = typeof keyId === 'string' ? keyId : await keyId();
    sendUsage(res, await this.series(id, range), query.format);
  }

  /**
   * A key's usage per bucket over the range: ascending, zero-filled, from the coarsest stored
   * rows that tile the buckets (minutes for minutes, the hourly rollup for the rest).
   */
  series(keyId: string, range: UsageRange): Promise<BucketTotals> {
    return this.meter.consistentRead(() => this.seriesNow(keyId, range));
  }

  /** Runs a read of keys whose totals go through totals(), without a flush committing midway. */
  consistently<T>(read: () => Promise<T>): Promise<T> {
    return this.meter.consistentRead(read);
  }

  private async seriesNow(keyId: string, range: UsageRange): Promise<BucketTotals> {
    const { fromMinute, toMinute } = minuteRange(range);
    const stored = await this.usage.stored(keyId, storedUnit(range.interval), fromMinute, toMinute);
    const totals = new BucketTotals(range);
    const { starts, counts, volumes } = stored;
    for (let i = 0; i < starts.length; i++) totals.add(starts[i], counts[i], volumes[i]);
    // What this instance has counted and not yet written, exactly once: consistentRead keeps
    // a flush from committing while this runs.
    for (const [start, count, volume] of this.meter.unflushed(keyId)?.minutes ?? []) {
      totals.add(start, count, volume);
    }
    return totals;
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
      lastUsedAt:
        unflushed.lastUsedMs !== null && unflushed.lastUsedMs > last
          ? new Date(unflushed.lastUsedMs)
          : key.lastUsedAt,
    };
  }
}
