import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { DatabaseDriver } from '../prisma/database-driver';
import { bigintParam } from '../prisma/driver';
import { PrismaService } from '../prisma/prisma.service';
import { WEBHOOK_CLOCK, type WebhookClock } from './webhook-clock';

const DAY_MS = 86_400_000;
/** How often old events are looked for (and first, a minute after start). */
export const RETENTION_SWEEP_MS = 3_600_000;
const FIRST_SWEEP_MS = 60_000;
/** Events deleted per statement: a short lock each, however much a first sweep finds. */
const DELETE_BATCH = 1000;
/** The pause between two batches of one sweep (a first sweep after an upgrade may be long). */
const BATCH_PAUSE_MS = 20;

/** Oldest first, by the created_at index; the deliveries go with their event (cascade). */
const DELETE_OLD = `DELETE FROM webhook_events WHERE id IN
  (SELECT id FROM webhook_events WHERE created_at < ? ORDER BY created_at LIMIT ${DELETE_BATCH})
  RETURNING id`;

/**
 * Keeps the outbox from growing without end: events older than WEBHOOK_RETENTION_DAYS are
 * deleted with their deliveries, in batches, every hour. Retries end after 24 h and the
 * retention is at least 2 days, so only finished deliveries (or those of an endpoint disabled
 * since) go. Every instance may sweep: deleting what another deleted is nothing.
 */
@Injectable()
export class WebhookRetention implements OnApplicationBootstrap {
  private readonly logger = new Logger(WebhookRetention.name);
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private stopped = false;

  constructor(
    private readonly driver: DatabaseDriver,
    private readonly prisma: PrismaService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(WEBHOOK_CLOCK) private readonly now: WebhookClock,
  ) {
    prisma.beforeDisconnect(async () => {
      this.stopped = true;
      clearTimeout(this.timer);
      await this.sweeping?.catch(() => undefined);
    });
  }

  onApplicationBootstrap(): void {
    this.schedule(FIRST_SWEEP_MS);
  }

  /** Deletes what is past the retention now; resolves to the number of events deleted. */
  async sweep(): Promise<number> {
    const before = this.now() - this.config.webhookRetentionDays * DAY_MS;
    const cutoff = bigintParam(this.prisma.dialect, before);
    let deleted = 0;
    for (;;) {
      const rows = await this.driver.writeRows(DELETE_OLD, [cutoff]);
      deleted += rows.length;
      if (rows.length < DELETE_BATCH) return deleted;
      // SQLite deletes in-process: requests and the usage flush go between two batches.
      await new Promise((resolve) => setTimeout(resolve, BATCH_PAUSE_MS));
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.sweeping = this.sweep();
      void this.sweeping
        .then(
          (deleted) => {
            if (deleted > 0) this.logger.log(`deleted ${deleted} webhook event(s) past retention`);
          },
          (error: unknown) => {
            const message = error instanceof Error ? error.message : String(error);
            this.logger.warn(`could not delete old webhook events: ${message}`);
          },
        )
        .finally(() => this.schedule(RETENTION_SWEEP_MS));
    }, delayMs);
    this.timer.unref();
  }
}
