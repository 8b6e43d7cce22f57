import { BadRequestException, Injectable } from '@nestjs/common';
import {
  BucketRow,
  groupIndexToStartMs,
  minuteRange,
  parseUsageRange,
  sqlGrouping,
  UsagePoint,
  UsageRange,
  UsageRangeError,
  zeroFill,
} from './buckets';
import { MINUTE_MS } from './pending-usage';
import { UsageMeter } from './usage-meter.service';
import { UsageRepository } from './usage.repository';

export interface UsageQuery {
  from?: string;
  to?: string;
  interval?: string;
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

  /** A key's usage per bucket over the range: ascending, zero-filled, aggregated in SQL. */
  series(keyId: string, range: UsageRange): Promise<UsagePoint[]> {
    return this.meter.consistentRead(() => this.seriesNow(keyId, range));
  }

  /** Runs a read of keys whose totals go through totals(), without a flush committing midway. */
  consistently<T>(read: () => Promise<T>): Promise<T> {
    return this.meter.consistentRead(read);
  }

  private async seriesNow(keyId: string, range: UsageRange): Promise<UsagePoint[]> {
    const { fromMinute, toMinute } = minuteRange(range);
    const { sizeMinutes, offsetMinutes } = sqlGrouping(range.interval);
    const groups = await this.usage.grouped(
      keyId,
      fromMinute,
      toMinute,
      sizeMinutes,
      offsetMinutes,
    );
    const rows: BucketRow[] = groups.map((g) => ({
      start: groupIndexToStartMs(g.group, range.interval),
      count: g.count,
      volume: g.volume,
    }));
    const unflushed = this.meter.unflushed(keyId);
    if (unflushed) {
      const lo = fromMinute * MINUTE_MS;
      const hi = (toMinute + 1) * MINUTE_MS;
      for (const [start, count, volume] of unflushed.minutes) {
        if (start >= lo && start < hi) rows.push({ start, count, volume });
      }
    }
    return zeroFill(range, rows);
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
