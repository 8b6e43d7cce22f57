import type { Response } from 'express';
import type { UsagePoint } from '../usage/buckets';

/**
 * Writes a usage series as `{success, results}` JSON or as CSV. The JSON is assembled by hand
 * because a 90-day minute series has ~130,000 buckets, and the keys of each one are fixed.
 */
export function sendUsage(
  res: Response,
  points: UsagePoint[],
  format: 'json' | 'csv' = 'json',
): void {
  if (format === 'csv') {
    const lines = ['bucket,volume,count'];
    for (const p of points) lines.push(`${p.bucket},${p.volume},${p.count}`);
    res.type('text/csv').send(`${lines.join('\n')}\n`);
    return;
  }
  const parts: string[] = [];
  for (const p of points) {
    parts.push(`{"bucket":"${p.bucket}","volume":${p.volume},"count":${p.count}}`);
  }
  res.type('application/json').send(`{"success":true,"results":[${parts.join(',')}]}`);
}
