import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { auditEntry } from '../audit/audit-entry';
import { DatabaseDriver } from '../prisma/database-driver';
import { Dialect, PrismaService } from '../prisma/prisma.service';

/** A delivery an instance has claimed, with what it needs to send it. */
export interface ClaimedDelivery {
  id: string;
  attempts: number;
  firstAttemptAtMs: number | null;
  endpointId: string;
  accountId: string;
  url: string;
  secret: string;
  previousSecret: string | null;
  previousSecretUntilMs: number | null;
  eventId: string;
  payload: string;
}

const DUE = `d.status = 'pending' AND d.next_attempt_at <= ? AND d.claimed_until <= ? AND e.enabled`;

const DETAILS = `e.id, e.account_id, e.url, e.secret, e.previous_secret, e.previous_secret_until,
                 ev.id, ev.payload`;

/**
 * Claims: a lease (claimed_until) set in one statement. On PostgreSQL the due rows are locked
 * with FOR UPDATE SKIP LOCKED, so instances claiming at once take different rows; a row another
 * instance committed a claim on meanwhile is re-checked against its new claimed_until and
 * skipped. SQLite has one writer at a time: its UPDATE … RETURNING is the claim.
 */
const CLAIM: Record<Dialect, string[]> = {
  postgresql: [
    `WITH due AS (
       SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
       WHERE ${DUE} ORDER BY d.next_attempt_at LIMIT ? FOR UPDATE OF d SKIP LOCKED),
     claimed AS (
       UPDATE webhook_deliveries d SET claimed_until = ? FROM due WHERE d.id = due.id
       RETURNING d.id, d.attempts, d.first_attempt_at, d.endpoint_id, d.event_id)
     SELECT c.id, c.attempts, c.first_attempt_at, ${DETAILS}
     FROM claimed c JOIN webhook_endpoints e ON e.id = c.endpoint_id
       JOIN webhook_events ev ON ev.id = c.event_id`,
  ],
  sqlite: [
    `UPDATE webhook_deliveries SET claimed_until = ? WHERE id IN (
       SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
       WHERE ${DUE} ORDER BY d.next_attempt_at LIMIT ?)
     RETURNING id`,
    `SELECT d.id, d.attempts, d.first_attempt_at, ${DETAILS}
     FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
       JOIN webhook_events ev ON ev.id = d.event_id
     WHERE d.id = ?`,
  ],
};

/** The earliest next attempt of a pending delivery to an enabled endpoint (claimed or not). */
const NEXT_DUE = `SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d
                  JOIN webhook_endpoints e ON e.id = d.endpoint_id
                  WHERE d.status = 'pending' AND e.enabled`;

const DELIVERED = `UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1,
    first_attempt_at = COALESCE(first_attempt_at, ?), last_attempt_at = ?,
    last_response_code = ?, claimed_until = 0
  WHERE id = ? AND status = 'pending'`;
const HEALTHY = `UPDATE webhook_endpoints SET failing_since = NULL
  WHERE id = ? AND failing_since IS NOT NULL`;

const FAILED = `UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1,
    first_attempt_at = COALESCE(first_attempt_at, ?), last_attempt_at = ?,
    last_response_code = ?, next_attempt_at = ?, claimed_until = 0
  WHERE id = ? AND status = 'pending'`;
const FAILING = `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?)
  WHERE id = ? RETURNING failing_since`;

const RELEASE = `UPDATE webhook_deliveries SET claimed_until = 0 WHERE id = ? AND status = 'pending'`;

const num = (v: unknown): number | null => (v === null ? null : Number(v));

/**
 * The delivery worker's statements, on the driver: the poll runs every few hundred ms on every
 * instance, where Prisma's query compiler would cost more than the query.
 */
@Injectable()
export class WebhookDeliveriesRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly driver: DatabaseDriver,
  ) {}

  /**
   * When the earliest pending delivery is due (null: none is pending): the poll, a read (no
   * write lock on SQLite), which also tells an idle worker it may stop polling.
   */
  async nextDue(): Promise<number | null> {
    const [[min]] = await this.driver.rows(NEXT_DUE, []);
    return min === null || min === undefined ? null : Number(min);
  }

  /** Claims up to `limit` due deliveries until `leaseUntilMs`. */
  async claim(nowMs: number, limit: number, leaseUntilMs: number): Promise<ClaimedDelivery[]> {
    const [claim, details] = CLAIM[this.prisma.dialect];
    if (this.prisma.dialect === 'postgresql') {
      const rows = await this.driver.writeRows(claim, [nowMs, nowMs, limit, leaseUntilMs]);
      return rows.map(toClaimed);
    }
    const ids = await this.driver.writeRows(claim, [leaseUntilMs, nowMs, nowMs, limit]);
    const claimed: ClaimedDelivery[] = [];
    for (const [id] of ids) {
      const [row] = await this.driver.rows(details, [id]);
      if (row) claimed.push(toClaimed(row));
    }
    return claimed;
  }

  async delivered(d: ClaimedDelivery, nowMs: number, status: number): Promise<void> {
    await this.driver.transaction([
      { sql: DELIVERED, runs: [[nowMs, nowMs, status, d.id]] },
      { sql: HEALTHY, runs: [[d.endpointId]] },
    ]);
  }

  /**
   * Records a failed attempt: due again at `nextAtMs`, or failed for good when null. Returns
   * since when the endpoint has been failing (this attempt, if it was healthy); null when the
   * endpoint no longer exists.
   */
  async failed(
    d: ClaimedDelivery,
    nowMs: number,
    status: number | null,
    nextAtMs: number | null,
  ): Promise<number | null> {
    const [row] = await this.driver.writeRows(FAILING, [nowMs, d.endpointId]);
    await this.driver.transaction([
      {
        sql: FAILED,
        runs: [
          [nextAtMs === null ? 'failed' : 'pending', nowMs, nowMs, status, nextAtMs ?? nowMs, d.id],
        ],
      },
    ]);
    // No row: the endpoint was deleted meanwhile (its deliveries went with it).
    return row ? Number(row[0]) : null;
  }

  /**
   * Hands back every claim: for SQLite at start-up, where one instance owns the file, so a claim
   * found then was its own before a crash and need not wait for its lease to lapse.
   */
  async releaseAll(): Promise<void> {
    await this.driver.transaction([
      {
        sql: `UPDATE webhook_deliveries SET claimed_until = 0 WHERE claimed_until > 0`,
        runs: [[]],
      },
    ]);
  }

  /** Hands a claim back unfinished (shutdown), so that any instance may send it at once. */
  async release(id: string): Promise<void> {
    await this.driver.transaction([{ sql: RELEASE, runs: [[id]] }]);
  }

  /**
   * Disables an endpoint that has failed for too long, gives up its pending deliveries and
   * writes the audit entry, in one transaction. False when it was already disabled.
   */
  async disable(d: ClaimedDelivery, failingSinceMs: number): Promise<boolean> {
    return this.prisma.db.$transaction(async (tx) => {
      const changed = await tx.webhookEndpoint.updateMany({
        where: { id: d.endpointId, enabled: true },
        data: { enabled: false },
      });
      if (changed.count !== 1) return false;
      await tx.webhookDelivery.updateMany({
        where: { endpointId: d.endpointId, status: 'pending' },
        data: { status: 'failed', claimedUntil: 0n },
      });
      const system = {
        accountId: d.accountId,
        type: 'system' as const,
        id: null,
        ip: null,
        userAgent: null,
        requestId: randomUUID(),
      };
      await tx.auditEntry.create({
        data: auditEntry(system, 'webhook.disabled', null, {
          endpointId: { before: d.endpointId, after: d.endpointId },
          url: { before: d.url, after: d.url },
          enabled: { before: true, after: false },
          failingSince: { before: null, after: new Date(failingSinceMs).toISOString() },
        }),
      });
      return true;
    });
  }
}

function toClaimed(row: unknown[]): ClaimedDelivery {
  const [
    id,
    attempts,
    first,
    endpointId,
    accountId,
    url,
    secret,
    previous,
    until,
    eventId,
    payload,
  ] = row;
  return {
    id: id as string,
    attempts: Number(attempts),
    firstAttemptAtMs: num(first),
    endpointId: endpointId as string,
    accountId: accountId as string,
    url: url as string,
    secret: secret as string,
    previousSecret: previous as string | null,
    previousSecretUntilMs: num(until),
    eventId: eventId as string,
    payload: payload as string,
  };
}
