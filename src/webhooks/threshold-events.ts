import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import {
  ACCESS_COLUMNS,
  ACCESS_FROM,
  ACCESS_WIDTH,
  toKeyAccess,
} from '../access/key-access.repository';
import { LimitsEnforcer } from '../limits/limits-enforcer';
import { type Quota, sameQuota } from '../limits/limits';
import { bigintParam, type WriteStep } from '../prisma/driver';
import { Dialect, PrismaService } from '../prisma/prisma.service';
import type { KeyUsage } from '../usage/pending-usage';
import { UsageMeter } from '../usage/usage-meter.service';
import type { FlushExtension, FlushWork } from '../usage/usage.repository';
import { WEBHOOK_CLOCK, type WebhookClock } from './webhook-clock';
import { keyEvent } from './webhook-events';
import { type OutboxRows, outboxRows, WebhookOutbox } from './webhook-outbox';
import {
  type Crossing,
  crossings,
  type Served,
  servedByPeriod,
  thresholdEventId,
  thresholdFigures,
} from './usage-thresholds';

/**
 * The statements, per dialect. Each flush adds what it served to the period's quota counters
 * (the row its leases created) and reads the totals back: the UPDATE locks the row, so flushes
 * of several instances add one after the other and each sees the total its own write made.
 */
const SQL: Record<
  Dialect,
  { served: string; keyAndEndpoints: string; event: string; delivery: string }
> = {
  sqlite: {
    // Once per (key, period), prepared: SQLite runs the whole flush in-process, synchronously.
    served: `UPDATE quota_counters SET served_requests = served_requests + ?,
               served_volume = served_volume + ?
             WHERE key_id = ? AND period_start = ?
             RETURNING key_id, period_start, served_requests, served_volume`,
    keyAndEndpoints: `SELECT ${ACCESS_COLUMNS('sqlite')}, e.id, e.events FROM ${ACCESS_FROM}
             JOIN webhook_endpoints e ON e.account_id = k.account_id AND e.enabled
             WHERE k.id = ?`,
    event: `INSERT INTO webhook_events (id, account_id, type, payload, created_at)
            VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    delivery: `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, next_attempt_at, created_at)
            SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS
              (SELECT 1 FROM webhook_deliveries WHERE event_id = ? AND endpoint_id = ?)`,
  },
  postgresql: {
    // One statement over arrays, like the flush's own: one round trip while the flush holds its
    // rows' locks, whatever the number of keys with a quota.
    served: `UPDATE quota_counters q SET served_requests = q.served_requests + u.requests,
               served_volume = q.served_volume + u.volume
             FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[])
               AS u(key_id, period_start, requests, volume)
             WHERE q.key_id = u.key_id AND q.period_start = u.period_start
             RETURNING q.key_id, q.period_start, q.served_requests, q.served_volume`,
    keyAndEndpoints: `SELECT ${ACCESS_COLUMNS('postgresql')}, e.id, e.events FROM ${ACCESS_FROM}
             JOIN webhook_endpoints e ON e.account_id = k.account_id AND e.enabled
             WHERE k.id = ?`,
    event: `INSERT INTO webhook_events (id, account_id, type, payload, created_at)
            VALUES (?, ?, ?, ?, ?::bigint) ON CONFLICT (id) DO NOTHING`,
    delivery: `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, next_attempt_at, created_at)
            SELECT ?, ?, ?, ?::bigint, ?::bigint WHERE NOT EXISTS
              (SELECT 1 FROM webhook_deliveries WHERE event_id = ? AND endpoint_id = ?)`,
  },
};

/** One key's served uses in one period, as a flush adds them. */
interface Addition {
  keyId: string;
  quota: Quota;
  periodStart: number;
  served: Served;
}

/** Crossings of one key found by a flush, waiting for its account's endpoints. */
interface KeyCrossings {
  keyId: string;
  found: { quota: Quota; periodStart: number; crossing: Crossing }[];
}

/**
 * usage.threshold: a key's quota consumption crossing 50, 80 and 100 % of its period, told once
 * per threshold per period. Each flush that writes uses of a key with a quota also adds them to
 * the period's served counters, in the same transaction, reads the new totals, and writes an
 * event for each threshold the addition crossed, with its deliveries, before it commits: a crash
 * loses the event only with the uses that caused it, and a retried flush writes it again under
 * the same derived id. The quota is the one this instance admitted the uses under.
 */
@Injectable()
export class ThresholdEvents implements FlushExtension, OnModuleInit {
  private readonly sql: (typeof SQL)[Dialect];
  private readonly dialect: Dialect;
  private readonly bound: (n: number) => bigint | string;

  constructor(
    private readonly meter: UsageMeter,
    private readonly enforcer: LimitsEnforcer,
    private readonly outbox: WebhookOutbox,
    prisma: PrismaService,
    @Inject(WEBHOOK_CLOCK) private readonly now: WebhookClock,
  ) {
    this.dialect = prisma.dialect;
    this.sql = SQL[prisma.dialect];
    this.bound = (n) => bigintParam(prisma.dialect, n);
  }

  onModuleInit(): void {
    this.meter.extendFlush(this);
  }

  work(batch: ReadonlyMap<string, KeyUsage>): FlushWork | null {
    const additions: Addition[] = [];
    for (const [keyId, usage] of batch) {
      const quota = this.enforcer.quotaOf(keyId);
      if (quota === undefined) continue;
      for (const [periodStart, served] of servedByPeriod(quota, usage.minutes)) {
        additions.push({ keyId, quota, periodStart, served });
      }
    }
    if (additions.length === 0) return null;
    // Rows in key order, as the flush's own, so concurrent flushes lock them in one order.
    additions.sort((a, b) =>
      a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : a.periodStart - b.periodStart,
    );
    let enqueued = 0;
    return {
      steps: [
        {
          sql: this.sql.served,
          runs: this.servedRuns(additions),
          then: (results) => {
            const found = this.crossed(additions, results);
            return found.length === 0 ? [] : [this.lookUp(found, (n) => (enqueued += n))];
          },
        },
      ],
      committed: () => {
        if (enqueued > 0) this.outbox.committed();
      },
    };
  }

  /** The served UPDATE's parameters: a run per addition (SQLite), or one run of arrays. */
  private servedRuns(additions: readonly Addition[]): unknown[][] {
    const b = this.bound;
    const rows = additions.map((a) => [
      a.keyId,
      b(a.periodStart),
      b(a.served.requests),
      b(a.served.volume),
    ]);
    if (this.dialect === 'postgresql') return [[0, 1, 2, 3].map((c) => rows.map((row) => row[c]))];
    return rows.map(([keyId, periodStart, requests, volume]) => [
      requests,
      volume,
      keyId,
      periodStart,
    ]);
  }

  /** The crossings of each key, from the totals its additions left (no row: no lease, no quota). */
  private crossed(additions: readonly Addition[], results: unknown[][][]): KeyCrossings[] {
    const totals = new Map<string, unknown[]>();
    for (const row of results.flat()) totals.set(`${String(row[0])} ${Number(row[1])}`, row);
    const byKey = new Map<string, KeyCrossings>();
    additions.forEach((addition) => {
      const row = totals.get(`${addition.keyId} ${addition.periodStart}`);
      if (!row) return;
      const after: Served = { requests: Number(row[2]), volume: Number(row[3]) };
      const before: Served = {
        requests: after.requests - addition.served.requests,
        volume: after.volume - addition.served.volume,
      };
      for (const crossing of crossings(addition.quota, before, after)) {
        let key = byKey.get(addition.keyId);
        if (!key) byKey.set(addition.keyId, (key = { keyId: addition.keyId, found: [] }));
        key.found.push({ quota: addition.quota, periodStart: addition.periodStart, crossing });
      }
    });
    return [...byKey.values()];
  }

  /** Reads each key with its account's enabled endpoints, then writes the events they take. */
  private lookUp(keys: readonly KeyCrossings[], enqueued: (n: number) => void): WriteStep {
    return {
      sql: this.sql.keyAndEndpoints,
      runs: keys.map((key) => [key.keyId]),
      then: (results) => {
        const now = this.now();
        const rows: OutboxRows = { events: [], deliveries: [] };
        keys.forEach((key, i) => {
          const found = results[i];
          // No row: the key was deleted meanwhile, or its account has no enabled endpoint.
          if (found.length === 0) return;
          const access = toKeyAccess(found[0]);
          const endpoints = found.map((row) => ({
            id: row[ACCESS_WIDTH] as string,
            events: row[ACCESS_WIDTH + 1] as string,
          }));
          // Told only under the quota the key still has: one removed or changed since the uses
          // were admitted has no thresholds to cross (a changed one counts from here on).
          const events = key.found
            .filter(({ quota }) => sameQuota(access.limits?.quota ?? null, quota))
            .map(({ quota, periodStart, crossing }) => ({
              ...keyEvent(
                'usage.threshold',
                access,
                thresholdFigures(quota, periodStart, crossing),
              ),
              id: thresholdEventId(key.keyId, periodStart, crossing),
            }));
          const ofKey = outboxRows(events, endpoints, now);
          rows.events.push(...ofKey.events);
          rows.deliveries.push(...ofKey.deliveries);
        });
        enqueued(rows.deliveries.length);
        return this.writes(rows);
      },
    };
  }

  /** The outbox's rows on the driver (a retried flush finds its event there and adds nothing). */
  private writes(rows: OutboxRows): WriteStep[] {
    if (rows.events.length === 0) return [];
    const b = this.bound;
    return [
      {
        sql: this.sql.event,
        runs: rows.events.map((e) => [e.id, e.accountId, e.type, e.payload, b(e.createdAt)]),
      },
      {
        sql: this.sql.delivery,
        runs: rows.deliveries.map((d) => [
          d.id,
          d.endpointId,
          d.eventId,
          b(d.nextAttemptAt),
          b(d.createdAt),
          d.eventId,
          d.endpointId,
        ]),
      },
    ];
  }
}
