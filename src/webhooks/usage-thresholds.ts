import type { Quota } from '../limits/limits';
import { periodAt } from '../limits/periods';
import type { MinuteUsage } from '../usage/pending-usage';
import { MINUTE_MS } from '../usage/time';
import { derivedEventId } from './webhook-events';

/** The shares of a quota's period whose crossing usage.threshold tells of, in percent. */
export const USAGE_THRESHOLDS = [50, 80, 100] as const;
export type UsageThreshold = (typeof USAGE_THRESHOLDS)[number];

/** The dimensions of a quota, as events name them. */
export type QuotaMetric = 'requests' | 'volumeBytes';

/** Requests and body bytes served. */
export interface Served {
  requests: number;
  volume: number;
}

/**
 * A batch's uses of a key by the quota period they fall in (a batch may straddle midnight or
 * the first of a month), keyed by the period's start; periods with nothing served are left out.
 */
export function servedByPeriod(
  quota: Quota,
  minutes: ReadonlyMap<number, MinuteUsage>,
): Map<number, Served> {
  const periods = new Map<number, Served>();
  for (const [minute, usage] of minutes) {
    if (usage.count === 0 && usage.volume === 0) continue;
    const start = periodAt(quota.period, minute * MINUTE_MS).startMs;
    const served = periods.get(start) ?? { requests: 0, volume: 0 };
    served.requests += usage.count;
    served.volume += usage.volume;
    periods.set(start, served);
  }
  return periods;
}

/** One threshold a flush took a key's consumption across. */
export interface Crossing {
  metric: QuotaMetric;
  threshold: UsageThreshold;
  /** Consumption just after the flush, and the quota's limit of it. */
  used: number;
  limit: number;
}

/**
 * The thresholds that consumption going from `before` to `after` crossed, for each dimension the
 * quota limits: p is crossed when before < p % of the limit <= after, so a threshold is crossed
 * once per period however the uses are batched (consumption only grows within a period), and a
 * quota changed mid-period counts from the consumption it finds.
 */
export function crossings(quota: Quota, before: Served, after: Served): Crossing[] {
  const found: Crossing[] = [];
  const dimensions: [QuotaMetric, number | null, number, number][] = [
    ['requests', quota.requests, before.requests, after.requests],
    ['volumeBytes', quota.volumeBytes, before.volume, after.volume],
  ];
  for (const [metric, limit, from, to] of dimensions) {
    if (limit === null || limit <= 0) continue;
    for (const threshold of USAGE_THRESHOLDS) {
      // In integers: p % of the limit is limit * p / 100.
      if (from * 100 < limit * threshold && to * 100 >= limit * threshold) {
        found.push({ metric, threshold, used: to, limit });
      }
    }
  }
  return found;
}

/**
 * The event id of one crossing: the same on every instance, so that a crossing written twice
 * (a retried flush) is one event. A new limit gets ids of its own.
 */
export function thresholdEventId(keyId: string, periodStart: number, crossing: Crossing): string {
  const { metric, limit, threshold } = crossing;
  return derivedEventId(`usage.threshold ${keyId} ${periodStart} ${metric} ${limit} ${threshold}`);
}

/** What usage.threshold tells of a crossing, next to the key's own fields. */
export function thresholdFigures(
  quota: Quota,
  periodStart: number,
  crossing: Crossing,
): Record<string, unknown> {
  const { resetMs } = periodAt(quota.period, periodStart);
  return {
    metric: crossing.metric,
    threshold: crossing.threshold,
    used: crossing.used,
    limit: crossing.limit,
    period: quota.period,
    periodStart: new Date(periodStart).toISOString(),
    resetsAt: resetMs === null ? null : new Date(resetMs).toISOString(),
  };
}
