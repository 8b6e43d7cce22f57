import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Db } from '../prisma/prisma.service';
import { WEBHOOK_CLOCK, type WebhookClock } from './webhook-clock';
import type { NewWebhookEvent } from './webhook-events';

/** The client of an interactive transaction. */
export type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

/**
 * The durable outbox: events are written, with one delivery per enabled endpoint of the account
 * subscribed to their type, inside the transaction of the change they tell of, so that a crash
 * loses neither. After the commit, `committed()` wakes this instance's worker.
 */
@Injectable()
export class WebhookOutbox {
  private readonly listeners: (() => void)[] = [];

  constructor(@Inject(WEBHOOK_CLOCK) private readonly now: WebhookClock) {}

  /**
   * Writes the events and their deliveries in `tx`; with `endpointId`, to that endpoint only,
   * whatever it subscribes to (the test event). Returns how many deliveries were enqueued.
   */
  async enqueue(tx: Tx, events: readonly NewWebhookEvent[], endpointId?: string): Promise<number> {
    if (events.length === 0) return 0;
    const accountId = events[0].accountId;
    const endpoints = await tx.webhookEndpoint.findMany({
      where: endpointId ? { id: endpointId, accountId } : { accountId, enabled: true },
      select: { id: true, events: true },
    });
    const rows = outboxRows(events, endpoints, this.now(), endpointId !== undefined);
    for (const event of rows.events)
      await tx.webhookEvent.create({ data: event, select: { id: true } });
    if (rows.deliveries.length > 0) await tx.webhookDelivery.createMany({ data: rows.deliveries });
    return rows.deliveries.length;
  }

  /** Called after a commit that enqueued: the worker starts at once instead of at its next poll. */
  committed(): void {
    for (const listener of this.listeners) listener();
  }

  onCommitted(listener: () => void): void {
    this.listeners.push(listener);
  }
}

/** An endpoint as the outbox needs it: its id and its subscribed types (a JSON array). */
export interface OutboxEndpoint {
  id: string;
  events: string;
}

/** The rows the outbox writes: each event, and one delivery per endpoint it goes to. */
export interface OutboxRows {
  events: { id: string; accountId: string; type: string; payload: string; createdAt: number }[];
  deliveries: {
    id: string;
    endpointId: string;
    eventId: string;
    nextAttemptAt: number;
    createdAt: number;
  }[];
}

/**
 * The rows of `events` for the account's `endpoints`: an event goes to the endpoints subscribed
 * to its type (to all of them with `everyEndpoint`: the test event), due at once; an event no
 * endpoint takes is not written. Its body is fixed here, at enqueueing: every attempt sends the
 * same bytes, so the receiver's de-duplication by id sees one event.
 */
export function outboxRows(
  events: readonly NewWebhookEvent[],
  endpoints: readonly OutboxEndpoint[],
  now: number,
  everyEndpoint = false,
): OutboxRows {
  const rows: OutboxRows = { events: [], deliveries: [] };
  const subscribed = endpoints.map((e) => ({ id: e.id, types: JSON.parse(e.events) as string[] }));
  for (const event of events) {
    const targets = everyEndpoint
      ? subscribed
      : subscribed.filter((e) => e.types.includes(event.type));
    if (targets.length === 0) continue;
    const id = event.id ?? randomUUID();
    const createdAt = new Date(now).toISOString();
    const payload = JSON.stringify({ id, type: event.type, createdAt, data: event.data });
    rows.events.push({ id, accountId: event.accountId, type: event.type, payload, createdAt: now });
    for (const target of targets) {
      rows.deliveries.push({
        id: randomUUID(),
        endpointId: target.id,
        eventId: id,
        nextAttemptAt: now,
        createdAt: now,
      });
    }
  }
  return rows;
}
