import { Inject, Injectable, Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import type { KeyLimits } from '../limits/limits';
import { PrismaService } from '../prisma/prisma.service';
import { WEBHOOK_CLOCK, type WebhookClock } from './webhook-clock';
import { derivedEventId, keyEvent } from './webhook-events';
import { WebhookOutbox } from './webhook-outbox';

const MINUTE_MS = 60_000;

/**
 * The event id of a key's refusals in one minute: the same on every instance, so that the
 * first instance to write it wins and the others' writes find it there (at most one a minute).
 */
export function rateLimitedEventId(keyId: string, minute: number): string {
  return derivedEventId(`usage.rate_limited ${keyId} ${minute}`);
}

/**
 * usage.rate_limited: the first refusal of a key by its rate limit or quota in a UTC minute.
 * Seen in memory on the request path (one map lookup); written to the outbox off it, in a
 * transaction of its own, as the refusal counts are written by the usage flush: a crash in
 * those milliseconds loses the event with the counts.
 */
@Injectable()
export class RefusalEvents {
  private readonly logger = new Logger(RefusalEvents.name);
  /** The minute of each key's latest event (bounded: a flood of keys evicts the oldest). */
  private readonly lastMinute = new LRUCache<string, number>({ max: 100_000 });
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly prisma: PrismaService,
    private readonly outbox: WebhookOutbox,
    @Inject(WEBHOOK_CLOCK) private readonly now: WebhookClock,
  ) {
    prisma.beforeDisconnect(async () => {
      await Promise.all([...this.writing]);
    });
  }

  refused(keyId: string, limits: KeyLimits, code: string, atMs = this.now()): void {
    const minute = Math.floor(atMs / MINUTE_MS);
    if (this.lastMinute.get(keyId) === minute) return;
    this.lastMinute.set(keyId, minute);
    const write = this.write(keyId, limits, code, minute, atMs)
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        this.logger.warn(`could not enqueue usage.rate_limited for key ${keyId}: ${message}`);
      })
      .finally(() => this.writing.delete(write));
    this.writing.add(write);
  }

  private async write(
    keyId: string,
    limits: KeyLimits,
    code: string,
    minute: number,
    atMs: number,
  ): Promise<void> {
    const id = rateLimitedEventId(keyId, minute);
    let enqueued = 0;
    try {
      enqueued = await this.prisma.db.$transaction(async (tx) => {
        if (await tx.webhookEvent.findUnique({ where: { id }, select: { id: true } })) return 0;
        const key = await tx.apiKey.findUnique({
          where: { id: keyId },
          select: { name: true, accountId: true, isMaster: true, isActive: true, expiresAt: true },
        });
        if (!key) return 0;
        const { expiresAt, ...rest } = key;
        const access = { id: keyId, ...rest, expiresAtMs: expiresAt?.getTime() ?? null, limits };
        const event = keyEvent('usage.rate_limited', access, {
          code,
          refusedAt: new Date(atMs).toISOString(),
          minute: new Date(minute * MINUTE_MS).toISOString(),
        });
        return this.outbox.enqueue(tx, [{ ...event, id }]);
      });
    } catch (error) {
      // Another instance wrote this minute's event between our check and our insert.
      if ((error as { code?: unknown }).code === 'P2002') return;
      throw error;
    }
    if (enqueued > 0) this.outbox.committed();
  }
}
