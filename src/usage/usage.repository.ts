import { Injectable } from '@nestjs/common';
import { DatabaseDriver } from '../prisma/database-driver';
import type { WriteStep } from '../prisma/driver';
import { Dialect, PrismaService } from '../prisma/prisma.service';
import { STORED_UNIT_MINUTES, StoredUnit } from './buckets';
import { KeyUsage, MinuteTraffic } from './pending-usage';
import { MINUTE_MS } from './time';
import { parseStoredRows, StoredRows } from './stored-rows';

/** The largest epoch minute the INTEGER column holds (year 6053); no usage lies beyond it. */
const MAX_MINUTE = 2 ** 31 - 1;

/** Sums are bound as BigInt on SQLite (a JavaScript number binds as REAL past 2^53). */
const big = (n: number): bigint => BigInt(Math.round(n));

/** How each database stores a Prisma DateTime, for comparisons inside SQL. */
function timestamp(dialect: Dialect, ms: number): string {
  const iso = new Date(ms).toISOString();
  // Prisma's SQLite adapter writes ISO-8601 with an explicit +00:00 offset; keep the same text
  // so that last_used_at compares correctly as a string.
  return dialect === 'sqlite' ? iso.replace('Z', '+00:00') : iso;
}

/** traffic_minutes' figures, in MinuteTraffic's order (trafficRow). */
const TRAFFIC_COLUMNS =
  'volume_out, responses, status_2xx, status_3xx, status_4xx, status_5xx, latency_us_sum, latency_us_max';

/** Sums add up; the worst latency is the worse of the two (several instances, late flushes). */
function trafficMerge(max: 'MAX' | 'GREATEST'): string {
  const sums = TRAFFIC_COLUMNS.split(', ').filter((column) => column !== 'latency_us_max');
  return [
    ...sums.map((column) => `${column} = traffic_minutes.${column} + excluded.${column}`),
    `latency_us_max = ${max}(traffic_minutes.latency_us_max, excluded.latency_us_max)`,
  ].join(', ');
}

/** A key's traffic rows per minute, or summed per hour (the unit's first minute). */
const TRAFFIC_SQL: Record<StoredUnit, string> = {
  minute: `SELECT minute, ${TRAFFIC_COLUMNS} FROM traffic_minutes
           WHERE key_id = ? AND minute BETWEEN ? AND ?`,
  hour: `SELECT (minute / 60) * 60, ${TRAFFIC_COLUMNS.split(', ')
    .map((column) => (column === 'latency_us_max' ? `MAX(${column})` : `SUM(${column})`))
    .join(', ')}
         FROM traffic_minutes WHERE key_id = ? AND minute BETWEEN ? AND ? GROUP BY minute / 60`,
};

const trafficRow = (t: MinuteTraffic): number[] => [
  t.volumeOut,
  t.responses,
  t.status2xx,
  t.status3xx,
  t.status4xx,
  t.status5xx,
  t.latencyUsSum,
  t.latencyUsMax,
];

/**
 * The statements of a flush: minute buckets, key totals, and the answers' traffic per minute. Usage of a key deleted meanwhile is dropped by the SQL itself
 * (EXISTS, and an UPDATE that finds no row). On PostgreSQL a key deleted between the EXISTS and
 * the foreign-key check fails the flush once; its counts go back and the next flush drops them. SQLite runs them once per row, prepared, inside
 * one synchronous transaction; PostgreSQL runs each once over arrays (unnest), so its text and
 * plan stay the same whatever the batch size.
 */
const FLUSH_SQL: Record<Dialect, { minutes: string; totals: string; traffic: string }> = {
  sqlite: {
    // The WHERE also settles SQLite's parse of INSERT … SELECT … ON CONFLICT.
    minutes: `INSERT INTO usage_minutes (key_id, minute, count, volume)
              SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?)
              ON CONFLICT (key_id, minute) DO UPDATE SET
                count = usage_minutes.count + excluded.count,
                volume = usage_minutes.volume + excluded.volume`,
    totals: `UPDATE api_keys SET
               usage_count = usage_count + ?,
               usage_volume = usage_volume + ?,
               usage_volume_out = usage_volume_out + ?,
               last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < ?
                 THEN ? ELSE last_used_at END
             WHERE id = ?`,
    traffic: `INSERT INTO traffic_minutes (key_id, minute, ${TRAFFIC_COLUMNS})
              SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?)
              ON CONFLICT (key_id, minute) DO UPDATE SET ${trafficMerge('MAX')}`,
  },
  postgresql: {
    minutes: `INSERT INTO usage_minutes (key_id, minute, count, volume)
              SELECT u.key_id, u.minute, u.count, u.volume
              FROM unnest(?::text[], ?::integer[], ?::bigint[], ?::bigint[])
                AS u(key_id, minute, count, volume)
              WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.id = u.key_id)
              ON CONFLICT (key_id, minute) DO UPDATE SET
                count = usage_minutes.count + excluded.count,
                volume = usage_minutes.volume + excluded.volume`,
    // GREATEST ignores NULL: a first use sets last_used_at, a late one never moves it back.
    totals: `UPDATE api_keys SET
               usage_count = api_keys.usage_count + u.count,
               usage_volume = api_keys.usage_volume + u.volume,
               usage_volume_out = api_keys.usage_volume_out + u.volume_out,
               last_used_at = GREATEST(api_keys.last_used_at, u.last_used)
             FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::timestamp(3)[])
               AS u(id, count, volume, volume_out, last_used)
             WHERE api_keys.id = u.id`,
    traffic: `INSERT INTO traffic_minutes (key_id, minute, ${TRAFFIC_COLUMNS})
              SELECT * FROM unnest(?::text[], ?::integer[], ${'?::bigint[], '.repeat(7)}?::bigint[])
                AS u(key_id, minute, ${TRAFFIC_COLUMNS})
              WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.id = u.key_id)
              ON CONFLICT (key_id, minute) DO UPDATE SET ${trafficMerge('GREATEST')}`,
  },
};

/** What a feature adds to one flush: steps in its transaction, and what to do once it commits. */
export interface FlushWork {
  steps: readonly WriteStep[];
  committed(): void;
}

/**
 * A feature that acts on what a flush writes, inside the flush's own transaction (webhooks'
 * usage thresholds): so what it decides from the new totals commits with them, or not at all.
 */
export interface FlushExtension {
  /** The work for this batch; null when there is none (the common case costs nothing). */
  work(batch: ReadonlyMap<string, KeyUsage>): FlushWork | null;
}

@Injectable()
export class UsageRepository {
  private readonly extensions: FlushExtension[] = [];

  constructor(
    private readonly prisma: PrismaService,
    private readonly driver: DatabaseDriver,
  ) {}

  /** Adds a feature's work to every flush's transaction, after the flush's own steps. */
  extend(extension: FlushExtension): void {
    this.extensions.push(extension);
  }

  /**
   * Writes a batch of metered usage in one transaction: additive upserts of the minute buckets
   * (several instances add up exactly) and the keys' totals with a forward-only lastUsedAt.
   * Usage of keys deleted meanwhile is dropped. Rows are written in key order so that
   * concurrent flushes from several instances lock them in the same order. The extensions'
   * steps run last, in the same transaction, and learn of the commit.
   */
  async addUsage(batch: Map<string, KeyUsage>): Promise<void> {
    if (batch.size === 0) return;
    const extra: FlushWork[] = [];
    for (const extension of this.extensions) {
      const work = extension.work(batch);
      if (work) extra.push(work);
    }
    await this.writeUsage(
      batch,
      extra.flatMap((work) => work.steps),
    );
    for (const work of extra) work.committed();
  }

  private async writeUsage(batch: Map<string, KeyUsage>, extra: WriteStep[]): Promise<void> {
    const { driver } = this;
    const { dialect } = this.prisma;
    const ids = [...batch.keys()].sort();
    const minutes: [string, number, number, number][] = [];
    const totals: [string, number, number, number, string][] = [];
    const traffic: [string, number, ...number[]][] = [];
    for (const id of ids) {
      const usage = batch.get(id)!;
      for (const minute of [...usage.minutes.keys()].sort((a, b) => a - b)) {
        const bucket = usage.minutes.get(minute)!;
        // A minute holding only answers (their uses were counted in an earlier one) adds nothing.
        if (bucket.count > 0 || bucket.volume > 0) {
          minutes.push([id, minute, bucket.count, bucket.volume]);
        }
        if (bucket.traffic) traffic.push([id, minute, ...trafficRow(bucket.traffic)]);
      }
      const { count, volume, volumeOut, lastUsedMs } = usage;
      totals.push([id, count, volume, volumeOut, timestamp(dialect, lastUsedMs)]);
    }
    const sql = FLUSH_SQL[dialect];
    if (dialect === 'sqlite') {
      await driver.transaction([
        { sql: sql.minutes, runs: minutes.map(([id, m, c, v]) => [id, m, big(c), big(v), id]) },
        {
          sql: sql.totals,
          runs: totals.map(([id, c, v, out, at]) => [big(c), big(v), big(out), at, at, id]),
        },
        {
          sql: sql.traffic,
          runs: traffic.map(([id, m, ...figures]) => [id, m, ...figures.map(big), id]),
        },
        ...extra,
      ]);
      return;
    }
    // Arrays of decimal strings: pg sends them as text, which PostgreSQL parses exactly.
    await driver.transaction([
      { sql: sql.minutes, runs: minutes.length > 0 ? [columns(minutes, 4)] : [] },
      { sql: sql.totals, runs: [columns(totals, 5)] },
      { sql: sql.traffic, runs: traffic.length > 0 ? [columns(traffic, 10)] : [] },
      ...extra,
    ]);
  }

  /**
   * Adds refused-request counts per key and minute, additively (several instances add up).
   * Counts of keys deleted meanwhile are dropped, as usage's are.
   */
  async addRefusals(refusals: ReadonlyMap<string, ReadonlyMap<number, number>>): Promise<void> {
    const rows: [string, number, number][] = [];
    for (const id of [...refusals.keys()].sort()) {
      for (const [minute, count] of refusals.get(id)!) rows.push([id, minute, count]);
    }
    if (rows.length === 0) return;
    const { dialect } = this.prisma;
    if (dialect === 'sqlite') {
      await this.driver.transaction([
        { sql: REFUSED_SQL.sqlite, runs: rows.map(([id, m, c]) => [id, m, big(c), id]) },
      ]);
      return;
    }
    await this.driver.transaction([{ sql: REFUSED_SQL.postgresql, runs: [columns(rows, 3)] }]);
  }

  /** A key's refused requests per epoch minute in [fromMinute, toMinute]. */
  async refusedMinutes(
    keyId: string,
    fromMinute: number,
    toMinute: number,
  ): Promise<[number, number][]> {
    const rows = await this.driver.rows(
      'SELECT minute, count FROM refused_minutes WHERE key_id = ? AND minute BETWEEN ? AND ?',
      [keyId, Math.min(fromMinute, MAX_MINUTE), Math.min(toMinute, MAX_MINUTE)],
    );
    return rows.map(([minute, count]) => [Number(minute), Number(count)]);
  }

  /**
   * A key's answers in [fromMinute, toMinute], per minute or, for every coarser interval, summed
   * per hour in SQL (hours tile days, weeks and months): 92 days are then at most 2,208 rows
   * instead of 132,480, and the worst latency is the MAX over the hour's minutes.
   */
  async trafficMinutes(
    keyId: string,
    fromMinute: number,
    toMinute: number,
    unit: StoredUnit = 'minute',
  ): Promise<[number, MinuteTraffic][]> {
    const rows = await this.driver.rows(TRAFFIC_SQL[unit], [
      keyId,
      Math.min(fromMinute, MAX_MINUTE),
      Math.min(toMinute, MAX_MINUTE),
    ]);
    return rows.map((row) => {
      const [minute, volumeOut, responses, s2, s3, s4, s5, sum, max] = row.map(Number);
      return [
        minute,
        {
          volumeOut,
          responses,
          status2xx: s2,
          status3xx: s3,
          status4xx: s4,
          status5xx: s5,
          latencyUsSum: sum,
          latencyUsMax: max,
        },
      ];
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
    const [row] = await this.driver.rows(STORED_SQL[this.prisma.dialect][unit], [keyId, from, to]);
    const text = row?.[0];
    return parseStoredRows(
      typeof text === 'string' ? text : '',
      size * MINUTE_MS,
      Math.max(0, to - from + 1),
    );
  }
}

const REFUSED_SQL: Record<Dialect, string> = {
  sqlite: `INSERT INTO refused_minutes (key_id, minute, count)
           SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?)
           ON CONFLICT (key_id, minute) DO UPDATE SET count = refused_minutes.count + excluded.count`,
  postgresql: `INSERT INTO refused_minutes (key_id, minute, count)
           SELECT u.key_id, u.minute, u.count
           FROM unnest(?::text[], ?::integer[], ?::bigint[]) AS u(key_id, minute, count)
           WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.id = u.key_id)
           ON CONFLICT (key_id, minute) DO UPDATE SET count = refused_minutes.count + excluded.count`,
};

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

/** Rows → one array per column, numbers as decimal strings (for unnest on PostgreSQL). */
function columns(rows: readonly (readonly (string | number)[])[], width: number): string[][] {
  const out: string[][] = Array.from({ length: width }, () => []);
  for (const row of rows) {
    for (let c = 0; c < width; c++) {
      const cell = row[c];
      out[c].push(typeof cell === 'number' ? String(Math.round(cell)) : cell);
    }
  }
  return out;
}
