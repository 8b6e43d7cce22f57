import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { PrismaService } from '../prisma/prisma.service';
import { parseWebhookUrl, WebhookUrlError } from './addresses';
import { nextAttemptAt, RETRY_WINDOW_MS } from './retry-schedule';
import { webhookHeaders } from './signature';
import { WEBHOOK_CLOCK, type WebhookClock } from './webhook-clock';
import { ClaimedDelivery, WebhookDeliveriesRepository } from './webhook-deliveries.repository';
import { WebhookMetrics } from './webhook-metrics';
import { WebhookOutbox } from './webhook-outbox';
import { resolveChecked } from './webhook-resolver';
import { DELIVERY_TIMEOUT_MS, post } from './webhook-sender';
import { WebhookSecrets } from './webhook-secrets';

/** How often an instance with pending deliveries looks for due ones. */
export const POLL_INTERVAL_MS = 250;
/**
 * How often an instance with none looks again: its own commits wake it at once, so this only
 * picks up what another instance left (it died) or enabled; idle, it sends nearly no statements.
 */
export const IDLE_CHECK_MS = 5_000;
/** Deliveries in flight at once on one instance: a slow endpoint holds one slot, not the rest. */
export const MAX_IN_FLIGHT = 8;
/** How long a claim lasts: past the attempt's timeout, so only a dead instance's lapses. */
const LEASE_MS = DELIVERY_TIMEOUT_MS + 5_000;
/** How long shutdown waits for attempts in flight before aborting them. */
const STOP_GRACE_MS = 2_000;

/**
 * Delivers the outbox: polls for due deliveries (at once after a commit that enqueued on this
 * instance), claims a few with a lease, POSTs each signed, and records the outcome with the
 * next attempt from the retry schedule. Everything runs off the request path, with at most
 * MAX_IN_FLIGHT attempts at a time, so a slow or dead endpoint slows nothing else. At least
 * once: an attempt whose outcome was not recorded (a crash) is sent again once its lease lapses.
 */
@Injectable()
export class WebhookWorker implements OnApplicationBootstrap {
  private readonly logger = new Logger(WebhookWorker.name);
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private pollAgain = false;
  /** Nothing was pending at the last poll. */
  private idle = false;
  private stopped = false;
  private readonly metrics: WebhookMetrics;

  constructor(
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly secrets: WebhookSecrets,
    outbox: WebhookOutbox,
    private readonly prisma: PrismaService,
    metrics: WebhookMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(WEBHOOK_CLOCK) private readonly now: WebhookClock,
  ) {
    this.metrics = metrics;
    outbox.onCommitted(() => this.wake());
    // Before the database closes, after the HTTP server has finished (see PrismaService).
    prisma.beforeDisconnect(() => this.stop());
  }

  async onApplicationBootstrap(): Promise<void> {
    // One instance per SQLite file: claims left in it are this instance's, from before a crash.
    if (this.prisma.dialect === 'sqlite') await this.deliveries.releaseAll();
    this.schedule(0);
  }

  /** Looks for due deliveries now (a commit enqueued some, or a retry was asked for). */
  wake(): void {
    if (this.stopped) return;
    if (this.polling) this.pollAgain = true;
    else this.schedule(0);
  }

  /** Stops claiming, lets attempts in flight finish briefly, then aborts and hands them back. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const pending = [...this.inFlight.values()];
    const grace = new Promise<void>((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
    await Promise.race([Promise.all(pending), grace]);
    this.stopping.abort();
    await Promise.all([...this.inFlight.values()]);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
  }

  private async poll(): Promise<void> {
    if (this.stopped || this.polling) return;
    this.polling = true;
    try {
      do {
        this.pollAgain = false;
        const now = this.now();
        const next = await this.deliveries.nextDue();
        this.idle = next === null;
        const room = MAX_IN_FLIGHT - this.inFlight.size;
        if (next === null || next > now || room <= 0) continue;
        const claimed = await this.deliveries.claim(now, room, now + LEASE_MS);
        for (const delivery of claimed) this.start(delivery);
        // A full claim may have left more behind: look again at once.
        if (claimed.length === room) this.pollAgain = true;
      } while (this.pollAgain && !this.stopped);
    } catch (error) {
      this.logger.warn(`could not claim webhook deliveries: ${messageOf(error)}`);
    } finally {
      this.polling = false;
      if (!this.stopped) this.schedule(this.idle ? IDLE_CHECK_MS : POLL_INTERVAL_MS);
    }
  }

  private start(delivery: ClaimedDelivery): void {
    const run = this.attempt(delivery)
      .catch((error: unknown) => {
        this.logger.warn(`webhook delivery ${delivery.id} was not recorded: ${messageOf(error)}`);
      })
      .finally(() => {
        this.inFlight.delete(delivery.id);
        this.wake();
      });
    this.inFlight.set(delivery.id, run);
  }

  /** One attempt of one delivery, and its outcome recorded. */
  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const startedAt = this.now();
    let status: number | null = null;
    try {
      status = await this.send(delivery, startedAt);
    } catch (error) {
      if (this.stopping.signal.aborted) {
        await this.deliveries.release(delivery.id);
        return;
      }
      this.logger.debug(`webhook ${delivery.endpointId}: ${messageOf(error)}`);
    }
    const now = this.now();
    if (status !== null && status >= 200 && status < 300) {
      await this.deliveries.delivered(delivery, now, status);
      this.metrics.count('delivered');
      return;
    }
    const first = delivery.firstAttemptAtMs ?? now;
    const next = nextAttemptAt(delivery.attempts + 1, first, now, Math.random());
    const failingSince = await this.deliveries.failed(delivery, now, status, next);
    this.metrics.count(next === null ? 'gave_up' : 'failed_attempt');
    if (
      failingSince !== null &&
      now - failingSince >= RETRY_WINDOW_MS &&
      (await this.deliveries.disable(delivery, failingSince))
    ) {
      this.logger.warn(
        `webhook endpoint ${delivery.endpointId} disabled: no success for 24 h since ${new Date(failingSince).toISOString()}`,
      );
    }
  }

  /**
   * Checks the URL again (its host may resolve elsewhere by now), then POSTs to the address
   * checked. A refused address is a failed attempt with no response code.
   */
  private async send(delivery: ClaimedDelivery, nowMs: number): Promise<number> {
    const allowPrivate = this.config.webhookAllowPrivateUrls;
    let url: URL;
    let address: Awaited<ReturnType<typeof resolveChecked>>;
    try {
      url = parseWebhookUrl(delivery.url, allowPrivate);
      address = await resolveChecked(url, allowPrivate);
    } catch (error) {
      if (error instanceof WebhookUrlError) throw new Error(`refused: ${error.message}`);
      throw error;
    }
    const secrets = [this.secrets.open(delivery.secret, delivery.endpointId)];
    if (
      delivery.previousSecret !== null &&
      delivery.previousSecretUntilMs !== null &&
      delivery.previousSecretUntilMs > nowMs
    ) {
      secrets.push(this.secrets.open(delivery.previousSecret, delivery.endpointId));
    }
    const timestamp = Math.floor(nowMs / 1000);
    const headers = webhookHeaders(secrets, delivery.eventId, timestamp, delivery.payload);
    const signal = AbortSignal.any([
      this.stopping.signal,
      AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    ]);
    return post(url, address, headers, delivery.payload, signal);
  }
}

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);
