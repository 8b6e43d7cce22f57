import { BucketTotals } from './buckets';
import { emptyTraffic, MinuteTraffic, mergeTraffic } from './pending-usage';
import type { UsageRange } from './usage-range';

/** A bucket's traffic as answered with include=traffic: latencies in ms, null with no answers. */
export interface TrafficFigures {
  volumeOut: number;
  status2xx: number;
  status3xx: number;
  status4xx: number;
  status5xx: number;
  latencyMsAvg: number | null;
  latencyMsMax: number | null;
}

/** Microseconds as milliseconds with three decimals (exactly the stored µs). */
const ms = (us: number): number => Math.round(us) / 1000;

/** The published figures of summed traffic: the mean is the sum over the answers, to the µs. */
export function trafficFigures(t: MinuteTraffic): TrafficFigures {
  return {
    volumeOut: t.volumeOut,
    status2xx: t.status2xx,
    status3xx: t.status3xx,
    status4xx: t.status4xx,
    status5xx: t.status5xx,
    latencyMsAvg: t.responses > 0 ? ms(t.latencyUsSum / t.responses) : null,
    latencyMsMax: t.responses > 0 ? ms(t.latencyUsMax) : null,
  };
}

/**
 * Traffic per bucket over a range, merged minute by minute (sums add, the worst latency is the
 * worst of any minute): the same bucket arithmetic as usage, so the two series line up.
 */
export class TrafficTotals {
  private readonly buckets: BucketTotals;
  private readonly traffic: (MinuteTraffic | undefined)[];

  constructor(range: UsageRange) {
    this.buckets = new BucketTotals(range);
    this.traffic = new Array<MinuteTraffic | undefined>(this.buckets.length);
  }

  get length(): number {
    return this.buckets.length;
  }

  /** Adds a minute's traffic to the bucket holding `startMs`; nothing outside the range. */
  add(startMs: number, traffic: MinuteTraffic): void {
    const index = this.buckets.indexOf(startMs);
    if (index < 0) return;
    mergeTraffic((this.traffic[index] ??= emptyTraffic()), traffic);
  }

  at(index: number): MinuteTraffic {
    return this.traffic[index] ?? EMPTY;
  }
}

const EMPTY: MinuteTraffic = Object.freeze(emptyTraffic());
