import { Injectable } from '@nestjs/common';
import { DatabaseDriver } from '../prisma/database-driver';
import { bigintParam } from '../prisma/driver';
import { Dialect, PrismaService } from '../prisma/prisma.service';

/** What one lease asks for: a slice of each dimension, within the quota's allowance. */
export interface LeaseRequest {
  keyId: string;
  periodStart: number;
  /** Requests wanted and the quota's allowance of them (0 and 0: requests not limited). */
  requests: number;
  requestsLimit: number;
  /** Bytes wanted, the allowance, and the least that is any use (the request's own body). */
  volume: number;
  volumeLimit: number;
  volumeNeeded: number;
}

/** What a lease got, and the period's counters after it (handed out, served or held). */
export interface LeaseGrant {
  requests: number;
  volume: number;
  requestsTaken: number;
  volumeTaken: number;
}

/**
 * One statement takes a slice: the counters never pass the allowance, whatever number of
 * instances lease at once (the row lock orders them, and each UPDATE reads the row as the one
 * before it left it). The grant is written next to the counters by the same UPDATE, whose SET
 * reads the old values everywhere, so the statement also says how much it took. A volume slice
 * smaller than the request's own body is no use: then no bytes are taken.
 */
const LEASE_SQL: Record<Dialect, string> = {
  sqlite: `INSERT INTO quota_counters
             (key_id, period_start, requests, volume, last_requests_grant, last_volume_grant)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (key_id, period_start) DO UPDATE SET
             requests = quota_counters.requests + max(0, min(?, ? - quota_counters.requests)),
             last_requests_grant = max(0, min(?, ? - quota_counters.requests)),
             volume = quota_counters.volume + CASE WHEN ? - quota_counters.volume >= ?
               THEN max(0, min(?, ? - quota_counters.volume)) ELSE 0 END,
             last_volume_grant = CASE WHEN ? - quota_counters.volume >= ?
               THEN max(0, min(?, ? - quota_counters.volume)) ELSE 0 END
           RETURNING last_requests_grant, last_volume_grant, requests, volume`,
  postgresql: `INSERT INTO quota_counters
             (key_id, period_start, requests, volume, last_requests_grant, last_volume_grant)
           VALUES (?, ?::bigint, ?::bigint, ?::bigint, ?::bigint, ?::bigint)
           ON CONFLICT (key_id, period_start) DO UPDATE SET
             requests = quota_counters.requests
               + GREATEST(0, LEAST(?::bigint, ?::bigint - quota_counters.requests)),
             last_requests_grant = GREATEST(0, LEAST(?::bigint, ?::bigint - quota_counters.requests)),
             volume = quota_counters.volume + CASE WHEN ?::bigint - quota_counters.volume >= ?::bigint
               THEN GREATEST(0, LEAST(?::bigint, ?::bigint - quota_counters.volume)) ELSE 0 END,
             last_volume_grant = CASE WHEN ?::bigint - quota_counters.volume >= ?::bigint
               THEN GREATEST(0, LEAST(?::bigint, ?::bigint - quota_counters.volume)) ELSE 0 END
           RETURNING last_requests_grant, last_volume_grant, requests, volume`,
};

const HAND_BACK_SQL: Record<Dialect, string> = {
  sqlite: `UPDATE quota_counters SET requests = max(0, requests - ?), volume = max(0, volume - ?)
           WHERE key_id = ? AND period_start = ?`,
  postgresql: `UPDATE quota_counters SET requests = GREATEST(0, requests - ?::bigint),
             volume = GREATEST(0, volume - ?::bigint)
           WHERE key_id = ? AND period_start = ?::bigint`,
};

const TAKEN_SQL: Record<Dialect, string> = {
  sqlite: `SELECT requests, volume FROM quota_counters WHERE key_id = ? AND period_start = ?`,
  postgresql: `SELECT requests, volume FROM quota_counters
               WHERE key_id = ? AND period_start = ?::bigint`,
};

/** The quota counters' queries, on the driver: one statement per lease, none per request. */
@Injectable()
export class QuotaRepository {
  private readonly dialect: Dialect;

  constructor(
    private readonly driver: DatabaseDriver,
    prisma: PrismaService,
  ) {
    this.dialect = prisma.dialect;
  }

  async lease(ask: LeaseRequest): Promise<LeaseGrant> {
    const b = (n: number) => bigintParam(this.dialect, n);
    const firstRequests = Math.max(0, Math.min(ask.requests, ask.requestsLimit));
    const firstVolume =
      ask.volumeLimit >= ask.volumeNeeded ? Math.max(0, Math.min(ask.volume, ask.volumeLimit)) : 0;
    const volumeCase = [b(ask.volumeLimit), b(ask.volumeNeeded), b(ask.volume), b(ask.volumeLimit)];
    const [row] = await this.driver.writeRows(LEASE_SQL[this.dialect], [
      ask.keyId,
      b(ask.periodStart),
      b(firstRequests),
      b(firstVolume),
      b(firstRequests),
      b(firstVolume),
      b(ask.requests),
      b(ask.requestsLimit),
      b(ask.requests),
      b(ask.requestsLimit),
      ...volumeCase,
      ...volumeCase,
    ]);
    const [requests, volume, requestsTaken, volumeTaken] = (row ?? [0, 0, 0, 0]).map(Number);
    return { requests, volume, requestsTaken, volumeTaken };
  }

  /** Gives back what a lease did not use. */
  async handBack(
    keyId: string,
    periodStart: number,
    requests: number,
    volume: number,
  ): Promise<void> {
    const b = (n: number) => bigintParam(this.dialect, n);
    await this.driver.transaction([
      { sql: HAND_BACK_SQL[this.dialect], runs: [[b(requests), b(volume), keyId, b(periodStart)]] },
    ]);
  }

  /** What the period's counters hold: served by every instance, plus the slices they hold. */
  async taken(keyId: string, periodStart: number): Promise<{ requests: number; volume: number }> {
    const [row] = await this.driver.rows(TAKEN_SQL[this.dialect], [
      keyId,
      bigintParam(this.dialect, periodStart),
    ]);
    return row ? { requests: Number(row[0]), volume: Number(row[1]) } : { requests: 0, volume: 0 };
  }
}
