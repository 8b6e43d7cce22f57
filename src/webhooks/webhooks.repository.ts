import { Injectable } from '@nestjs/common';
import type { NewAuditEntry } from '../audit/audit-entry';
import { PrismaService } from '../prisma/prisma.service';
import type { NewWebhookEvent } from './webhook-events';
import { WebhookOutbox } from './webhook-outbox';

/** An endpoint as the rest of keymeter sees it: its secrets stay sealed. */
export interface StoredEndpoint {
  id: string;
  accountId: string;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  failingSinceMs: number | null;
  previousSecretUntilMs: number | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface StoredDelivery {
  id: string;
  eventId: string;
  type: string;
  status: string;
  attempts: number;
  lastResponseCode: number | null;
  lastAttemptAtMs: number | null;
  nextAttemptAtMs: number;
  createdAtMs: number;
}

const SELECT = {
  id: true,
  accountId: true,
  url: true,
  events: true,
  description: true,
  enabled: true,
  failingSince: true,
  previousSecretUntil: true,
  createdAt: true,
  updatedAt: true,
} as const;

type Row = {
  events: string;
  failingSince: bigint | null;
  previousSecretUntil: bigint | null;
} & Omit<StoredEndpoint, 'events' | 'failingSinceMs' | 'previousSecretUntilMs'>;

const msOrNull = (n: bigint | null): number | null => (n === null ? null : Number(n));

function toEndpoint(row: Row): StoredEndpoint {
  const { events, failingSince, previousSecretUntil, ...rest } = row;
  return {
    ...rest,
    events: JSON.parse(events) as string[],
    failingSinceMs: msOrNull(failingSince),
    previousSecretUntilMs: msOrNull(previousSecretUntil),
  };
}

export interface EndpointChanges {
  url?: string;
  events?: string[];
  enabled?: boolean;
  description?: string | null;
}

/** Webhook endpoints and their deliveries, for the API (the worker has its own statements). */
@Injectable()
export class WebhooksRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly outbox: WebhookOutbox,
  ) {}

  countInAccount(accountId: string): Promise<number> {
    return this.prisma.db.webhookEndpoint.count({ where: { accountId } });
  }

  async list(accountId: string): Promise<StoredEndpoint[]> {
    const rows = await this.prisma.db.webhookEndpoint.findMany({
      where: { accountId },
      select: SELECT,
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    return rows.map(toEndpoint);
  }

  async find(accountId: string, id: string): Promise<StoredEndpoint | null> {
    const row = await this.prisma.db.webhookEndpoint.findFirst({
      where: { id, accountId },
      select: SELECT,
    });
    return row ? toEndpoint(row) : null;
  }

  /** Adds an endpoint and writes its audit entry, in one transaction. */
  async create(
    accountId: string,
    record: {
      id: string;
      url: string;
      events: string[];
      description: string | null;
      secret: string;
    },
    audit: NewAuditEntry,
  ): Promise<StoredEndpoint> {
    const [row] = await this.prisma.db.$transaction([
      this.prisma.db.webhookEndpoint.create({
        data: { ...record, accountId, events: JSON.stringify(record.events) },
        select: SELECT,
      }),
      this.prisma.db.auditEntry.create({ data: audit }),
    ]);
    return toEndpoint(row);
  }

  /** Changes an endpoint and writes its audit entry; enabling it clears its failure record. */
  async update(
    id: string,
    changes: EndpointChanges,
    audit: NewAuditEntry,
  ): Promise<StoredEndpoint> {
    const [row] = await this.prisma.db.$transaction([
      this.prisma.db.webhookEndpoint.update({
        where: { id },
        data: {
          url: changes.url,
          events: changes.events && JSON.stringify(changes.events),
          enabled: changes.enabled,
          description: changes.description,
          ...(changes.enabled === true && { failingSince: null }),
        },
        select: SELECT,
      }),
      this.prisma.db.auditEntry.create({ data: audit }),
    ]);
    // Enabled again: its waiting deliveries are due.
    if (changes.enabled === true) this.outbox.committed();
    return toEndpoint(row);
  }

  /** Deletes an endpoint with its deliveries, and writes its audit entry. */
  async delete(id: string, audit: NewAuditEntry): Promise<void> {
    await this.prisma.db.$transaction([
      this.prisma.db.webhookEndpoint.delete({ where: { id } }),
      this.prisma.db.auditEntry.create({ data: audit }),
    ]);
  }

  /** The sealed current secret, to seal it again as the previous one on rotation. */
  async sealedSecret(id: string): Promise<string> {
    const row = await this.prisma.db.webhookEndpoint.findUniqueOrThrow({
      where: { id },
      select: { secret: true },
    });
    return row.secret;
  }

  async rotate(
    id: string,
    secrets: { secret: string; previousSecret: string; previousSecretUntil: number },
    audit: NewAuditEntry,
  ): Promise<void> {
    await this.prisma.db.$transaction([
      this.prisma.db.webhookEndpoint.update({
        where: { id },
        data: { ...secrets, previousSecretUntil: BigInt(secrets.previousSecretUntil) },
        select: { id: true },
      }),
      this.prisma.db.auditEntry.create({ data: audit }),
    ]);
  }

  /** Enqueues an event to this endpoint only (webhook.test). */
  async enqueueTo(endpointId: string, event: NewWebhookEvent & { id: string }): Promise<void> {
    await this.prisma.db.$transaction((tx) => this.outbox.enqueue(tx, [event], endpointId));
    this.outbox.committed();
  }

  /** Up to `take` of the endpoint's deliveries older than `before`, newest first. */
  async deliveries(
    endpointId: string,
    before: { createdAtMs: number; id: string } | null,
    take: number,
  ): Promise<StoredDelivery[]> {
    const createdAt = before && BigInt(before.createdAtMs);
    const rows = await this.prisma.db.webhookDelivery.findMany({
      where: createdAt
        ? {
            endpointId,
            OR: [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: before.id } }],
          }
        : { endpointId },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take,
      select: {
        id: true,
        eventId: true,
        status: true,
        attempts: true,
        lastResponseCode: true,
        lastAttemptAt: true,
        nextAttemptAt: true,
        createdAt: true,
        event: { select: { type: true } },
      },
    });
    return rows.map((r) => ({
      id: r.id,
      eventId: r.eventId,
      type: r.event.type,
      status: r.status,
      attempts: r.attempts,
      lastResponseCode: r.lastResponseCode,
      lastAttemptAtMs: msOrNull(r.lastAttemptAt),
      nextAttemptAtMs: Number(r.nextAttemptAt),
      createdAtMs: Number(r.createdAt),
    }));
  }

  /** Makes a delivery of the endpoint due at `nowMs` (pending again if it had failed). */
  async retry(endpointId: string, deliveryId: string, nowMs: number): Promise<boolean> {
    const changed = await this.prisma.db.webhookDelivery.updateMany({
      where: { id: deliveryId, endpointId },
      data: { status: 'pending', nextAttemptAt: BigInt(nowMs), claimedUntil: 0n },
    });
    if (changed.count === 1) this.outbox.committed();
    return changed.count === 1;
  }
}
