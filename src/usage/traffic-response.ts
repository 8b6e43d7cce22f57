import type { Response } from 'express';
import type { BucketTotals } from './buckets';
import { TrafficFigures, trafficFigures, TrafficTotals } from './traffic-totals';

/** The series of an include=traffic answer, bucket for bucket. */
export interface TrafficSeries {
  usage: BucketTotals;
  /** Requests the key's limits refused. */
  refused: BucketTotals;
  /** How the admitted requests were answered. */
  traffic: TrafficTotals;
}

const FIGURES: (keyof TrafficFigures)[] = [
  'volumeOut',
  'status2xx',
  'status3xx',
  'status4xx',
  'status5xx',
  'latencyMsAvg',
  'latencyMsMax',
];

/**
 * A usage series with include=traffic: each bucket's `{bucket, volume, count}`, the requests
 * the key's limits refused in it, and how the others were answered (bytes out, status classes,
 * latency). Written plainly (JSON.stringify): the published shape's fast writer
 * (usage-response.ts) stays the path of every other usage answer.
 */
export function trafficBody(series: TrafficSeries, format: 'json' | 'csv' = 'json'): string {
  const { usage, refused, traffic } = series;
  if (format === 'csv') {
    const lines = [['bucket', 'volume', 'count', 'refused', ...FIGURES].join(',')];
    for (let i = 0; i < usage.length; i++) {
      const bucket = new Date(usage.startOf(i)).toISOString();
      const figures = trafficFigures(traffic.at(i));
      const cells = FIGURES.map((name) => figures[name] ?? '');
      lines.push(
        [bucket, usage.volumeAt(i), usage.countAt(i), refused.countAt(i), ...cells].join(','),
      );
    }
    return `${lines.join('\n')}\n`;
  }
  const results = [];
  for (let i = 0; i < usage.length; i++) {
    results.push({
      bucket: new Date(usage.startOf(i)).toISOString(),
      volume: usage.volumeAt(i),
      count: usage.countAt(i),
      refused: refused.countAt(i),
      ...trafficFigures(traffic.at(i)),
    });
  }
  return JSON.stringify({ success: true, results });
}

export function sendTraffic(
  res: Response,
  series: TrafficSeries,
  format: 'json' | 'csv' = 'json',
): void {
  res.type(format === 'csv' ? 'text/csv' : 'application/json');
  res.send(trafficBody(series, format));
}
