import { randomUUID } from 'node:crypto';
import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import type { Actor } from '../audit/actor';
import type { AuditChanges } from '../audit/audit-actions';
import { auditEntry } from '../audit/audit-entry';
import { APP_CONFIG, AppConfig } from '../config/config';
import { parseWebhookUrl, WebhookUrlError } from './addresses';
import type {
  CreateWebhookDto,
  DeliveryPageDto,
  DeliveryQueryDto,
  DeliveryView,
  UpdateWebhookDto,
  WebhookView,
} from './dto/webhook.dto';
import { newWebhookSecret } from './signature';
import { WEBHOOK_CLOCK, type WebhookClock } from './webhook-clock';
import { TEST_EVENT_TYPE } from './webhook-events';
import { resolveChecked } from './webhook-resolver';
import { WebhookSecrets } from './webhook-secrets';
import { StoredDelivery, StoredEndpoint, WebhooksRepository } from './webhooks.repository';

/** The most endpoints one account may have. */
export const MAX_WEBHOOKS_PER_ACCOUNT = 20;
/** How long the secret before a rotation keeps signing alongside the new one. */
export const PREVIOUS_SECRET_MS = 24 * 3_600_000;
const DEFAULT_DELIVERY_PAGE = 50;
/** Endpoint and delivery ids: anything else is no such one (and never reaches the database). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Webhook endpoints: their rules (count, URLs, secrets) and their deliveries. */
@Injectable()
export class WebhooksService {
  constructor(
    private readonly endpoints: WebhooksRepository,
    private readonly secrets: WebhookSecrets,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(WEBHOOK_CLOCK) private readonly now: WebhookClock,
  ) {}

  async create(
    actor: Actor,
    body: CreateWebhookDto,
  ): Promise<{ view: WebhookView; secret: string }> {
    const url = await this.checkedUrl(body.url);
    if ((await this.endpoints.countInAccount(actor.accountId)) >= MAX_WEBHOOKS_PER_ACCOUNT) {
      throw new ConflictException(
        `the account already has ${MAX_WEBHOOKS_PER_ACCOUNT} webhook endpoints, the most allowed; delete one first`,
      );
    }
    const id = randomUUID();
    const secret = newWebhookSecret();
    const description = body.description || null;
    const stored = await this.endpoints.create(
      actor.accountId,
      { id, url, events: body.events, description, secret: this.secrets.seal(secret, id) },
      auditEntry(actor, 'webhook.created', null, {
        endpointId: { before: null, after: id },
        url: { before: null, after: url },
        events: { before: null, after: body.events },
      }),
    );
    return { view: view(stored, this.now()), secret };
  }

  async list(accountId: string): Promise<WebhookView[]> {
    return (await this.endpoints.list(accountId)).map((e) => view(e, this.now()));
  }

  async get(accountId: string, id: string): Promise<WebhookView> {
    return view(await this.find(accountId, id), this.now());
  }

  async update(actor: Actor, id: string, body: UpdateWebhookDto): Promise<WebhookView> {
    const before = await this.find(actor.accountId, id);
    id = before.id;
    const url = body.url === undefined ? undefined : await this.checkedUrl(body.url);
    const description = body.description === undefined ? undefined : body.description || null;
    const changes: AuditChanges = { endpointId: { before: id, after: id } };
    if (url !== undefined && url !== before.url) changes.url = { before: before.url, after: url };
    if (body.events) changes.events = { before: before.events, after: body.events };
    if (body.enabled !== undefined && body.enabled !== before.enabled) {
      changes.enabled = { before: before.enabled, after: body.enabled };
    }
    if (description !== undefined && description !== before.description) {
      changes.description = { before: before.description, after: description };
    }
    const stored = await this.endpoints.update(
      id,
      { url, events: body.events, enabled: body.enabled, description },
      auditEntry(actor, 'webhook.updated', null, changes),
    );
    return view(stored, this.now());
  }

  async delete(actor: Actor, id: string): Promise<void> {
    const endpoint = await this.find(actor.accountId, id);
    id = endpoint.id;
    await this.endpoints.delete(
      id,
      auditEntry(actor, 'webhook.deleted', null, {
        endpointId: { before: id, after: null },
        url: { before: endpoint.url, after: null },
      }),
    );
  }

  /** A new secret (shown once); the one it replaces keeps signing for PREVIOUS_SECRET_MS. */
  async rotate(
    actor: Actor,
    id: string,
  ): Promise<{ id: string; secret: string; previousSecretExpiresAt: Date }> {
    id = (await this.find(actor.accountId, id)).id;
    const secret = newWebhookSecret();
    const until = this.now() + PREVIOUS_SECRET_MS;
    await this.endpoints.rotate(
      id,
      {
        secret: this.secrets.seal(secret, id),
        previousSecret: await this.endpoints.sealedSecret(id),
        previousSecretUntil: until,
      },
      auditEntry(actor, 'webhook.secret_rotated', null, { endpointId: { before: id, after: id } }),
    );
    return { id, secret, previousSecretExpiresAt: new Date(until) };
  }

  /** Enqueues a webhook.test event to this endpoint only; returns the event's id. */
  async test(accountId: string, id: string): Promise<string> {
    const endpoint = await this.find(accountId, id);
    if (!endpoint.enabled)
      throw new ConflictException('this endpoint is disabled: enable it first');
    const eventId = randomUUID();
    await this.endpoints.enqueueTo(id, {
      id: eventId,
      accountId,
      type: TEST_EVENT_TYPE,
      data: { endpointId: id, url: endpoint.url },
    });
    return eventId;
  }

  async deliveries(
    accountId: string,
    id: string,
    query: DeliveryQueryDto,
  ): Promise<Omit<DeliveryPageDto, 'success'>> {
    id = (await this.find(accountId, id)).id;
    const limit = query.limit === undefined ? DEFAULT_DELIVERY_PAGE : Number(query.limit);
    let before: { createdAtMs: number; id: string } | null = null;
    if (query.cursor !== undefined) {
      const [createdAt, deliveryId] = query.cursor.split('_');
      before = { createdAtMs: Number(createdAt), id: deliveryId };
    }
    const rows = await this.endpoints.deliveries(id, before, limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      deliveries: page.map(deliveryView),
      nextCursor: rows.length > limit ? `${last.createdAtMs}_${last.id}` : null,
    };
  }

  /** Makes a delivery due now; a failed one becomes pending again. */
  async retry(accountId: string, id: string, deliveryId: string): Promise<void> {
    const endpoint = await this.find(accountId, id);
    if (!endpoint.enabled)
      throw new ConflictException('this endpoint is disabled: enable it first');
    const found =
      UUID.test(deliveryId) &&
      (await this.endpoints.retry(endpoint.id, deliveryId.toLowerCase(), this.now()));
    if (!found) {
      throw new NotFoundException('no such delivery of this webhook endpoint');
    }
  }

  private async find(accountId: string, id: string): Promise<StoredEndpoint> {
    const endpoint = UUID.test(id) ? await this.endpoints.find(accountId, id.toLowerCase()) : null;
    if (!endpoint) throw new NotFoundException('no such webhook endpoint');
    return endpoint;
  }

  /** The URL as it will be stored, or a 400 saying why it cannot be used (SSRF included). */
  private async checkedUrl(text: string): Promise<string> {
    const allowPrivate = this.config.webhookAllowPrivateUrls;
    try {
      const url = parseWebhookUrl(text, allowPrivate);
      await resolveChecked(url, allowPrivate);
      return url.toString();
    } catch (error) {
      if (error instanceof WebhookUrlError) throw new BadRequestException(error.message);
      throw error;
    }
  }
}

const dateOrNull = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/** The endpoint as shown; the previous secret only while it still signs. */
function view(endpoint: StoredEndpoint, nowMs: number): WebhookView {
  const until = endpoint.previousSecretUntilMs;
  return {
    id: endpoint.id,
    url: endpoint.url,
    events: endpoint.events,
    description: endpoint.description,
    enabled: endpoint.enabled,
    failingSince: dateOrNull(endpoint.failingSinceMs),
    previousSecretExpiresAt: until !== null && until > nowMs ? new Date(until) : null,
    createdAt: endpoint.createdAt,
    updatedAt: endpoint.updatedAt,
  };
}

function deliveryView(d: StoredDelivery): DeliveryView {
  return {
    id: d.id,
    eventId: d.eventId,
    type: d.type,
    status: d.status,
    attempts: d.attempts,
    lastResponseCode: d.lastResponseCode,
    lastAttemptAt: dateOrNull(d.lastAttemptAtMs),
    nextAttemptAt: d.status === 'pending' ? new Date(d.nextAttemptAtMs) : null,
    createdAt: new Date(d.createdAtMs),
  };
}
