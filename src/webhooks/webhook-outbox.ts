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
    if (endpoints.length === 0) return 0;
    const now = this.now();
    let enqueued = 0;
    for (const event of events) {
      const targets = endpointId
        ? endpoints
        : endpoints.filter((e) => (JSON.parse(e.events) as string[]).includes(event.type));
      if (targets.length === 0) continue;
      const id = event.id ?? randomUUID();
      const payload = JSON.stringify({
        id,
        type: event.type,
        createdAt: new Date(now).toISOString(),
        data: event.data,
      });
      await tx.webhookEvent.create({
        data: { id, accountId: event.accountId, type: event.type, payload, createdAt: now },
        select: { id: true },
      });
      await tx.webhookDelivery.createMany({
        data: targets.map((e) => ({
          id: randomUUID(),
          endpointId: e.id,
          eventId: id,
          nextAttemptAt: now,
          createdAt: now,
        })),
      });
      enqueued += targets.length;
    }
    return enqueued;
  }

  /** Called after a commit that enqueued: the worker starts at once instead of at its next poll. */
  committed(): void {
    for (const listener of this.listeners) listener();
  }

  onCommitted(listener: () => void): void {
    this.listeners.push(listener);
  }
}
