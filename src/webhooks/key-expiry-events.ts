import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { KeysRepository } from '../keys/keys.repository';
import { PrismaService } from '../prisma/prisma.service';
import { WEBHOOK_CLOCK, type WebhookClock } from './webhook-clock';
import { derivedEventId, keyEvent } from './webhook-events';
import { WebhookOutbox } from './webhook-outbox';

const DAY_MS = 86_400_000;
/** How often keys are looked at for expiry notices. */
export const EXPIRY_SCAN_MS = 15_000;
/** Keys looked at per scan, soonest expiry first. */
const SCAN_BATCH = 1000;

export type ExpiryNotice = { type: 'key.expiring'; daysBefore: 7 | 1 } | { type: 'key.expired' };

/**
 * The notice due for a key expiring at `expiresAtMs`: key.expiring in the last 7 days before
 * (the 7-day one) and in the last day (the 1-day one), key.expired in the day after (an expiry
 * older than that is history, not news: an upgrade must not announce every key that ever
 * expired). Null outside those windows.
 */
export function expiryNotice(expiresAtMs: number, nowMs: number): ExpiryNotice | null {
  const left = expiresAtMs - nowMs;
  if (left <= 0) return left > -DAY_MS ? { type: 'key.expired' } : null;
  if (left <= DAY_MS) return { type: 'key.expiring', daysBefore: 1 };
  if (left <= 7 * DAY_MS) return { type: 'key.expiring', daysBefore: 7 };
  return null;
}

/** The same on every instance and scan, so a notice is written once per key, expiry and kind. */
export function expiryEventId(keyId: string, expiresAtMs: number, notice: ExpiryNotice): string {
  const kind = notice.type === 'key.expired' ? 'expired' : `expiring ${notice.daysBefore}`;
  return derivedEventId(`${kind} ${keyId} ${expiresAtMs}`);
}

/**
 * key.expiring (7 days and 1 day before, once each) and key.expired: a scan every
 * EXPIRY_SCAN_MS of the live keys expiring soon (or just expired) in accounts with an endpoint
 * subscribed, each notice written to the outbox under an id derived from the key, its expiry and
 * the kind of notice, so that every instance may scan and each notice is written once; a new
 * expiry gets notices of its own. Rolled keys get none: key.rolled said when they end.
 */
@Injectable()
export class KeyExpiryEvents implements OnApplicationBootstrap {
  private readonly logger = new Logger(KeyExpiryEvents.name);
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;

  constructor(
    private readonly prisma: PrismaService,
    private readonly keys: KeysRepository,
    private readonly outbox: WebhookOutbox,
    @Inject(WEBHOOK_CLOCK) private readonly now: WebhookClock,
  ) {
    prisma.beforeDisconnect(async () => {
      clearInterval(this.timer);
      await this.scanning;
    });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.scan(), EXPIRY_SCAN_MS);
    this.timer.unref();
  }

  /** One scan (the timer's; also callable to notice at once). */
  scan(): Promise<void> {
    this.scanning ??= this.scanOnce()
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        this.logger.warn(`could not scan keys for expiry notices: ${message}`);
      })
      .finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    const now = this.now();
    const subscribed = ['key.expiring', 'key.expired'].map((type) => ({
      events: { contains: `"${type}"` },
    }));
    const candidates = await this.prisma.db.apiKey.findMany({
      where: {
        supersededBy: '',
        expiresAt: { gt: new Date(now - DAY_MS), lte: new Date(now + 7 * DAY_MS) },
        account: { webhookEndpoints: { some: { enabled: true, OR: subscribed } } },
      },
      select: { id: true, accountId: true, expiresAt: true },
      orderBy: { expiresAt: 'asc' },
      take: SCAN_BATCH,
    });
    let enqueued = 0;
    for (const candidate of candidates) {
      const expiresAtMs = candidate.expiresAt!.getTime();
      const notice = expiryNotice(expiresAtMs, now);
      if (notice === null) continue;
      enqueued += await this.notify(candidate.accountId, candidate.id, expiresAtMs, notice, now);
    }
    if (enqueued > 0) this.outbox.committed();
  }

  private async notify(
    accountId: string,
    keyId: string,
    expiresAtMs: number,
    notice: ExpiryNotice,
    now: number,
  ): Promise<number> {
    const id = expiryEventId(keyId, expiresAtMs, notice);
    if (await this.prisma.db.webhookEvent.findUnique({ where: { id }, select: { id: true } })) {
      return 0;
    }
    const key = await this.keys.findInAccount(accountId, keyId);
    if (!key || key.expiresAtMs !== expiresAtMs) return 0;
    const extra =
      notice.type === 'key.expiring'
        ? {
            daysBefore: notice.daysBefore,
            expiresInSeconds: Math.round((expiresAtMs - now) / 1000),
          }
        : {};
    try {
      return await this.prisma.db.$transaction((tx) =>
        this.outbox.enqueue(tx, [{ ...keyEvent(notice.type, key, extra), id }]),
      );
    } catch (error) {
      // Another instance wrote this notice between our check and our insert.
      if ((error as { code?: unknown }).code === 'P2002') return 0;
      throw error;
    }
  }
}
