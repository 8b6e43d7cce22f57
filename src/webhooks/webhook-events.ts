import { createHash } from 'node:crypto';
import type { KeyAccess } from '../access/key-access.repository';

/** The events an endpoint may subscribe to. */
export const WEBHOOK_EVENT_TYPES = [
  'key.created',
  'key.updated',
  'key.deleted',
  'key.rolled',
  'key.expiring',
  'key.expired',
  'usage.threshold',
  'usage.rate_limited',
] as const;
export type SubscribableEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Sent only by POST /1.0/webhooks/:id/test, to that endpoint, subscribed or not. */
export const TEST_EVENT_TYPE = 'webhook.test';
export type WebhookEventType = SubscribableEventType | typeof TEST_EVENT_TYPE;

/** An event to write to the outbox with the change that causes it. */
export interface NewWebhookEvent {
  /** Chosen by the outbox when not given. */
  id?: string;
  accountId: string;
  type: WebhookEventType;
  data: Record<string, unknown>;
}

/**
 * An event id derived from what the event is about, in UUID form: the same on every instance
 * and every try, so that the first write wins and the others find it there (written once).
 */
export function derivedEventId(about: string): string {
  const hex = createHash('sha256').update(about).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** A key as events tell of it: what identifies and limits it, never the key or its hash. */
export function keyEventData(key: KeyAccess): Record<string, unknown> {
  const limits = key.limits;
  const quota = limits?.quota;
  return {
    id: key.id,
    name: key.name,
    accountId: key.accountId,
    isMaster: key.isMaster,
    isActive: key.isActive,
    ...(key.expiresAtMs !== null && { expiresAt: new Date(key.expiresAtMs).toISOString() }),
    ...(limits?.rateLimit && { rateLimit: { ...limits.rateLimit, source: limits.rateSource } }),
    ...(quota && {
      quota: {
        ...(quota.requests !== null && { requests: quota.requests }),
        ...(quota.volumeBytes !== null && { volumeBytes: quota.volumeBytes }),
        period: quota.period,
        source: limits.quotaSource,
      },
    }),
  };
}

export function keyEvent(
  type: SubscribableEventType,
  key: KeyAccess,
  extra: Record<string, unknown> = {},
): NewWebhookEvent {
  return { accountId: key.accountId, type, data: { ...keyEventData(key), ...extra } };
}

/** The audit entries' changes as one {field: {before, after}} (a PATCH writes one per field). */
export function mergedChanges(changes: readonly (string | null)[]): Record<string, unknown> {
  return Object.assign({}, ...changes.map((c) => (c === null ? {} : (JSON.parse(c) as object))));
}
