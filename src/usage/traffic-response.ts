import type { Response } from 'express';
import type { BucketTotals } from './buckets';

/**
 * A usage series with include=traffic: each bucket's `{bucket, volume, count}` and the requests
 * the key's limits refused in it. Written plainly (JSON.stringify): the published shape's fast
 * writer (usage-response.ts) stays the path of every other usage answer.
 */
export function trafficBody(
  usage: BucketTotals,
  refused: BucketTotals,
  format: 'json' | 'csv' = 'json',
): string {
  if (format === 'csv') {
    const lines = ['bucket,volume,count,refused'];
    for (let i = 0; i < usage.length; i++) {
      const bucket = new Date(usage.startOf(i)).toISOString();
      lines.push(`${bucket},${usage.volumeAt(i)},${usage.countAt(i)},${refused.countAt(i)}`);
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
    });
  }
  return JSON.stringify({ success: true, results });
}

export function sendTraffic(
  res: Response,
  usage: BucketTotals,
  refused: BucketTotals,
  format: 'json' | 'csv' = 'json',
): void {
  res.type(format === 'csv' ? 'text/csv' : 'application/json');
  res.send(trafficBody(usage, refused, format));
}
