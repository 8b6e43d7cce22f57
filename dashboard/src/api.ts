/** keymeter's own HTTP API, as the page uses it: the session cookie plus its CSRF token. */

export interface Session {
  account: { id: string; email: string };
  expiresAt: string;
  csrfToken: string;
  keysRecoverable: boolean;
}

export interface ApiKey {
  id: string;
  name: string;
  /** The key itself, or a mask when keys are stored hashed only. */
  key: string;
  isMaster: boolean;
  isActive: boolean;
  createdAt: string;
  updatedAt: string;
  lastUsedAt: string | null;
  usageCount: number;
  /** Request body bytes received with the key, in all. */
  volume: number;
  /** Response body bytes sent to the key's clients, in all. */
  volumeOut: number;
  /** Only on a key that expires: from this instant on the API refuses it. */
  expiresAt?: string;
  /** Only on a rolled key: the id of the key that replaced it. */
  successorId?: string;
  /** Only on a rate-limited key: its own limit, or the account's default. */
  rateLimit?: RateLimitView;
  /** Only on a key with a quota: the allowance, the current period's use and its reset. */
  quota?: QuotaView;
}

/** "day" and "month" are UTC calendar ones; "total" never resets. */
export type QuotaPeriod = 'day' | 'month' | 'total';
/** Whether the key set the limit itself or follows the account's default. */
export type LimitSource = 'key' | 'account';

export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

/** An allowance per period: requests, body bytes, or both (an absent one is not limited). */
export interface Quota {
  requests?: number;
  volumeBytes?: number;
  period: QuotaPeriod;
}

export interface RateLimitView extends RateLimit {
  source: LimitSource;
}

export interface QuotaView extends Quota {
  source: LimitSource;
  /** The current period's consumption of each limited dimension. */
  used: { requests?: number; volumeBytes?: number };
  /** When the allowance resets; null for a total quota. */
  resetsAt: string | null;
}

/** Limits to set; null removes one (a key then follows the account's default, if any). */
export interface LimitChanges {
  rateLimit?: RateLimit | null;
  quota?: Quota | null;
}

/** The account's default limits, for its keys without limits of their own. */
export interface AccountLimits {
  rateLimit: RateLimit | null;
  quota: Quota | null;
}

export interface UsagePoint {
  bucket: string;
  volume: number;
  count: number;
}

/** A bucket with include=traffic: what was refused, and what the key's clients got back. */
export interface TrafficPoint extends UsagePoint {
  /** Requests refused by a rate limit or quota. */
  refused: number;
  /** Response body bytes sent. */
  volumeOut: number;
  /** Responses by status class. */
  status2xx: number;
  status3xx: number;
  status4xx: number;
  status5xx: number;
  /** Mean and worst time to answer, in ms; null in a bucket without responses. */
  latencyMsAvg: number | null;
  latencyMsMax: number | null;
}

export const INTERVALS = ['minute', 'hour', 'day', 'week', 'month'] as const;
export type Interval = (typeof INTERVALS)[number];

/** An error answer from keymeter; `message` is the API's own, meant for people. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {
    Accept: 'application/json',
    // Tells keymeter a script is asking, so a 401 does not make the browser prompt for a password.
    'X-Requested-With': 'XMLHttpRequest',
  };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'keymeter cannot be reached. Check your connection and try again.');
  }
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, messageOf(data, response.status));
  return data as T;
}

function messageOf(data: unknown, status: number): string {
  const message = (data as { message?: unknown } | null)?.message;
  if (Array.isArray(message)) return message.map(String).join('; ');
  if (typeof message === 'string' && message !== '') return message;
  return `keymeter answered ${status}`;
}

function remember(session: Session): Session {
  csrfToken = session.csrfToken;
  return session;
}

/** The current session, or null when signed out (or expired). */
export async function currentSession(): Promise<Session | null> {
  try {
    const res = await call<{ data: Session }>('GET', '/api/v1/auth/session');
    return remember(res.data);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export async function signIn(email: string, password: string): Promise<Session> {
  const res = await call<{ data: Session }>('POST', '/api/v1/auth/session', { email, password });
  return remember(res.data);
}

/** Creates the account (and its master key), then signs in to it. */
export async function signUp(email: string, password: string): Promise<Session> {
  await call('POST', '/api/v1/auth/register', { email, password });
  return signIn(email, password);
}

export async function signOut(): Promise<void> {
  try {
    await call('DELETE', '/api/v1/auth/session');
  } finally {
    csrfToken = null;
  }
}

const keyPath = (id: string) => `/1.0/keys/${encodeURIComponent(id)}`;

export async function listKeys(): Promise<ApiKey[]> {
  return (await call<{ keys: ApiKey[] }>('GET', '/1.0/keys')).keys;
}

export interface KeyPage {
  keys: ApiKey[];
  /** The cursor of the next page; null on the last. */
  nextCursor: string | null;
}

/** One page of the account's keys, oldest first, from `cursor` (the first page without). */
export function listKeyPage(limit: number, cursor: string | null): Promise<KeyPage> {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor !== null) query.set('cursor', cursor);
  return call<KeyPage>('GET', `/1.0/keys?${query}`);
}

/** `expiresAt`: an ISO-8601 instant, or null (the default) for a key that never expires. */
export function createKey(
  name: string,
  expiresAt: string | null = null,
): Promise<{ name: string; key: string }> {
  return call('POST', '/1.0/keys', expiresAt === null ? { name } : { name, expiresAt });
}

/** `expiresAt: null` clears the expiry; a null limit removes the key's own. */
export async function updateKey(
  id: string,
  changes: { name?: string; isActive?: boolean; expiresAt?: string | null } & LimitChanges,
): Promise<ApiKey> {
  return (await call<{ apiKey: ApiKey }>('PATCH', keyPath(id), changes)).apiKey;
}

export interface RolledKey {
  name: string;
  /** The new key, in full: shown once. */
  key: string;
  id: string;
  /** The old key, which works until `expiresAt` (now + the grace). */
  previous: { id: string; expiresAt: string };
}

/** Replaces a key with a new one of the same name; the old one works `graceSeconds` longer. */
export function rollKey(id: string, graceSeconds: number): Promise<RolledKey> {
  return call('POST', `${keyPath(id)}/roll`, { gracePeriodSeconds: graceSeconds });
}

export async function deleteKey(id: string): Promise<void> {
  await call('DELETE', keyPath(id));
}

export function usageQuery(from: string, to: string, interval: Interval): string {
  return new URLSearchParams({ from, to, interval }).toString();
}

/** A key's usage per bucket, with its traffic: refusals, bytes out, statuses and latency. */
export async function usage(
  id: string,
  from: string,
  to: string,
  interval: Interval,
): Promise<TrafficPoint[]> {
  const url = `${keyPath(id)}?${usageQuery(from, to, interval)}&include=traffic`;
  return (await call<{ results: TrafficPoint[] }>('GET', url)).results;
}

/** Where the same usage can be downloaded as CSV (a plain link: the cookie goes with it). */
export function usageCsvUrl(id: string, from: string, to: string, interval: Interval): string {
  return `${keyPath(id)}?${usageQuery(from, to, interval)}&format=csv&include=traffic`;
}

export async function accountLimits(): Promise<AccountLimits> {
  const { rateLimit, quota } = await call<AccountLimits>('GET', '/1.0/limits');
  return { rateLimit, quota };
}

/** Sets the account's defaults: the fields sent change (null removes one), the others stay. */
export async function setAccountLimits(changes: LimitChanges): Promise<AccountLimits> {
  const { rateLimit, quota } = await call<AccountLimits>('PUT', '/1.0/limits', changes);
  return { rateLimit, quota };
}

export interface AuditEntry {
  id: number;
  at: string;
  action: string;
  actor: { type: string; id: string | null };
  target: { keyId: string; keyName: string } | null;
  changes: Record<string, { before: unknown; after: unknown }> | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  /** The cursor of the next (older) page; null on the last. */
  nextCursor: string | null;
}

function auditQuery(limit: number, action: string | null, cursor: string | null = null): string {
  const query = new URLSearchParams({ limit: String(limit) });
  if (action !== null) query.set('action', action);
  if (cursor !== null) query.set('cursor', cursor);
  return query.toString();
}

/** One page of the account's audit log, newest first, optionally of one action only. */
export function listAudit(
  limit: number,
  action: string | null,
  cursor: string | null,
): Promise<AuditPage> {
  return call<AuditPage>('GET', `/1.0/audit?${auditQuery(limit, action, cursor)}`);
}

/** The newest `limit` entries (of one action) as CSV: a plain link, the cookie goes with it. */
export function auditCsvUrl(limit: number, action: string | null): string {
  return `/1.0/audit?${auditQuery(limit, action)}&format=csv`;
}

/** A webhook endpoint: where the account's events are POSTed, signed (Standard Webhooks). */
export interface Webhook {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  /** false: deliveries wait (turned off by the account, or by keymeter after 24 h of failures). */
  enabled: boolean;
  /** Since when every attempt has failed; null while healthy. */
  failingSince: string | null;
  /** Until when the secret before the latest rotation also signs; null when none does. */
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookChanges {
  url?: string;
  events?: string[];
  enabled?: boolean;
  /** null removes it. */
  description?: string | null;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One event's delivery to one endpoint, with its attempts so far. */
export interface WebhookDelivery {
  id: string;
  /** Sent as webhook-id: receivers de-duplicate by it. */
  eventId: string;
  type: string;
  status: DeliveryStatus;
  attempts: number;
  lastResponseCode: number | null;
  lastAttemptAt: string | null;
  /** When it is tried next; null once delivered or given up. */
  nextAttemptAt: string | null;
  createdAt: string;
}

export interface DeliveryPage {
  /** Newest first. */
  deliveries: WebhookDelivery[];
  nextCursor: string | null;
}

const webhookPath = (id: string) => `/1.0/webhooks/${encodeURIComponent(id)}`;

/** The endpoint's view of an answer, without the envelope's `success`. */
function webhookOf({ success: _, ...webhook }: Webhook & { success?: true }): Webhook {
  return webhook;
}

export async function listWebhooks(): Promise<Webhook[]> {
  return (await call<{ webhooks: Webhook[] }>('GET', '/1.0/webhooks')).webhooks;
}

export async function getWebhook(id: string): Promise<Webhook> {
  return webhookOf(await call<Webhook>('GET', webhookPath(id)));
}

/** Adds an endpoint; the answer carries its signing secret, shown this once. */
export async function createWebhook(body: {
  url: string;
  events: string[];
  description?: string;
}): Promise<{ webhook: Webhook; secret: string }> {
  const { secret, ...rest } = await call<Webhook & { secret: string }>(
    'POST',
    '/1.0/webhooks',
    body,
  );
  return { webhook: webhookOf(rest), secret };
}

export async function updateWebhook(id: string, changes: WebhookChanges): Promise<Webhook> {
  return webhookOf(await call<Webhook>('PATCH', webhookPath(id), changes));
}

export async function deleteWebhook(id: string): Promise<void> {
  await call('DELETE', webhookPath(id));
}

/** A new signing secret (shown once); the previous one signs too until `previousSecretExpiresAt`. */
export function rotateWebhookSecret(
  id: string,
): Promise<{ secret: string; previousSecretExpiresAt: string }> {
  return call('POST', `${webhookPath(id)}/rotate-secret`);
}

/** Sends a webhook.test event to this endpoint only; returns the event's id. */
export async function testWebhook(id: string): Promise<string> {
  return (await call<{ eventId: string }>('POST', `${webhookPath(id)}/test`)).eventId;
}

/** One page of the endpoint's deliveries, newest first, from `cursor` (the first without). */
export function listDeliveries(
  id: string,
  limit: number,
  cursor: string | null,
): Promise<DeliveryPage> {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor !== null) query.set('cursor', cursor);
  return call<DeliveryPage>('GET', `${webhookPath(id)}/deliveries?${query}`);
}

/** Makes a delivery due now: a failed one becomes pending again, a delivered one is sent again. */
export async function retryDelivery(id: string, deliveryId: string): Promise<void> {
  await call('POST', `${webhookPath(id)}/deliveries/${encodeURIComponent(deliveryId)}/retry`);
}
