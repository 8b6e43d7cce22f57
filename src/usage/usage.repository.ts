import { Injectable } from '@nestjs/common';
import { Dialect, PrismaService } from '../prisma/prisma.service';
import { STORED_UNIT_MINUTES, StoredUnit } from './buckets';
import { KeyUsage, MINUTE_MS } from './pending-usage';
import { parseStoredRows, StoredRows } from './stored-rows';

/** The largest epoch minute the INTEGER column holds (year 6053); no usage lies beyond it. */
const MAX_MINUTE = 2 ** 31 - 1;

/** Rows per multi-row INSERT: 4 parameters each stays far below both databases' limits. */
const CHUNK = 2000;

/** `?` for SQLite, `$n` for PostgreSQL. */
function placeholders(dialect: Dialect, rows: number, columns: number, casts: string[]): string {
  const out: string[] = [];
  let n = 0;
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 0; c < columns; c++) {
      n++;
      const p = dialect === 'postgresql' ? `$${n}` : '?';
      cells.push(casts[c] ? `CAST(${p} AS ${casts[c]})` : p);
    }
    out.push(`(${cells.join(', ')})`);
  }
  return out.join(', ');
}

/** Sums are passed as BigInt: a JavaScript number past 2^53 would be refused by the driver. */
const big = (n: number): bigint => BigInt(Math.round(n));

/** How each database stores a Prisma DateTime, for comparisons inside SQL. */
function timestamp(dialect: Dialect, ms: number): string {
  const iso = new Date(ms).toISOString();
  // Prisma's SQLite adapter writes ISO-8601 with an explicit +00:00 offset; keep the same text
  // so that last_used_at compares correctly as a string.
  return dialect === 'sqlite' ? iso.replace('Z', '+00:00') : iso;
}

@Injectable()
export class UsageRepository {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Writes a batch of metered usage in one transaction: additive upserts of the minute buckets
   * (several instances add up exactly) and the keys' totals with a forward-only lastUsedAt.
   * Usage of keys deleted meanwhile is dropped. Rows are written in key order so that
   * concurrent flushes from several instances lock them in the same order.
   */
  async addUsage(batch: Map<string, KeyUsage>): Promise<void> {
    const { dialect } = this.prisma;
    const ids = [...batch.keys()].sort();
    await this.prisma.db.$transaction(async (tx) => {
      const existing = new Set<string>();
      for (let i = 0; i < ids.length; i += CHUNK) {
        const slice = ids.slice(i, i + CHUNK);
        const rows = await tx.$queryRawUnsafe<{ id: string }[]>(
          `SELECT id FROM api_keys WHERE id IN (${slice.map((_, j) => (dialect === 'postgresql' ? `$${j + 1}` : '?')).join(', ')})`,
          ...slice,
        );
        for (const row of rows) existing.add(row.id);
      }
      const live = ids.filter((id) => existing.has(id));

      const minutes: (string | number | bigint)[][] = [];
      for (const id of live) {
        const usage = batch.get(id)!;
        for (const minute of [...usage.minutes.keys()].sort((a, b) => a - b)) {
          const bucket = usage.minutes.get(minute)!;
          minutes.push([id, minute, big(bucket.count), big(bucket.volume)]);
        }
      }
      for (let i = 0; i < minutes.length; i += CHUNK) {
        const slice = minutes.slice(i, i + CHUNK);
        await tx.$executeRawUnsafe(
          `INSERT INTO usage_minutes (key_id, minute, count, volume) VALUES ${placeholders(dialect, slice.length, 4, ['', 'INTEGER', 'BIGINT', 'BIGINT'])}
           ON CONFLICT (key_id, minute) DO UPDATE SET
             count = usage_minutes.count + excluded.count,
             volume = usage_minutes.volume + excluded.volume`,
          ...slice.flat(),
        );
      }

      const totals = live.map((id) => {
        const usage = batch.get(id)!;
        return [id, big(usage.count), big(usage.volume), timestamp(dialect, usage.lastUsedMs)];
      });
      const stamp = dialect === 'postgresql' ? 'TIMESTAMP(3)' : 'TEXT';
      for (let i = 0; i < totals.length; i += CHUNK) {
        const slice = totals.slice(i, i + CHUNK);
        // VALUES columns are column1..column4 in both SQLite and PostgreSQL.
        await tx.$executeRawUnsafe(
          `UPDATE api_keys SET
             usage_count = api_keys.usage_count + v.column2,
             usage_volume = api_keys.usage_volume + v.column3,
             last_used_at = CASE
               WHEN api_keys.last_used_at IS NULL OR api_keys.last_used_at < v.column4 THEN v.column4
               ELSE api_keys.last_used_at END
           FROM (VALUES ${placeholders(dialect, slice.length, 4, ['', 'BIGINT', 'BIGINT', stamp])}) AS v
           WHERE api_keys.id = v.column1`,
          ...slice.flat(),
        );
      }
    });
  }

  /**
   * A key's stored rows of one unit (minutes, or their hourly rollup) whose unit lies in
   * [fromMinute, toMinute], in no particular order; each row is one unit (the primary key), so
   * nothing is summed in SQL. The rows come back as one text value, `unit,count,volume;…`,
   * read on the driver with a prepared statement: for the 129,601 rows of 90 days of minutes,
   * making a JavaScript array per row costs ~130 ms of CPU on either driver (~400 ms through
   * Prisma), against ~30 ms for the database to build the text and ~5 ms to parse it.
   */
  async stored(
    keyId: string,
    unit: StoredUnit,
    fromMinute: number,
    toMinute: number,
  ): Promise<StoredRows> {
    const size = STORED_UNIT_MINUTES[unit];
    const from = Math.floor(Math.min(fromMinute, MAX_MINUTE) / size);
    const to = Math.floor(Math.min(toMinute, MAX_MINUTE) / size);
    const [row] = await this.prisma.reads.rows(STORED_SQL[this.prisma.dialect][unit], [
      keyId,
      from,
      to,
    ]);
    const text = row?.[0];
    return parseStoredRows(
      typeof text === 'string' ? text : '',
      size * MINUTE_MS,
      Math.max(0, to - from + 1),
    );
  }
}

/** One text value per read: `unit,count,volume` per row, joined with ';' (NULL if none). */
const STORED_SQL: Record<Dialect, Record<StoredUnit, string>> = {
  sqlite: {
    minute: `SELECT group_concat(minute || ',' || count || ',' || volume, ';') FROM usage_minutes
             WHERE key_id = ? AND minute BETWEEN ? AND ?`,
    hour: `SELECT group_concat(hour || ',' || count || ',' || volume, ';') FROM usage_hours
           WHERE key_id = ? AND hour BETWEEN ? AND ?`,
  },
  postgresql: {
    minute: `SELECT string_agg(concat_ws(',', minute, count, volume), ';') FROM usage_minutes
             WHERE key_id = ? AND minute BETWEEN ? AND ?`,
    hour: `SELECT string_agg(concat_ws(',', hour, count, volume), ';') FROM usage_hours
           WHERE key_id = ? AND hour BETWEEN ? AND ?`,
  },
};
