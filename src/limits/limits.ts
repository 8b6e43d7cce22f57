import type { QuotaPeriod } from './periods';

/** At most `limit` requests in any window of `windowSeconds`. */
export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

/** An allowance per period: requests, body bytes, or both (a null dimension is not limited). */
export interface Quota {
  requests: number | null;
  volumeBytes: number | null;
  period: QuotaPeriod;
}

/** The limits set in one place: on a key, or as its account's defaults. */
export interface LimitSet {
  rateLimit: RateLimit | null;
  quota: Quota | null;
}

/** Where a limit in effect was set. */
export type LimitSource = 'key' | 'account';

/**
 * The limits a key is held to: its own, else its account's defaults (each kind on its own: a
 * key with only a rate limit of its own follows the account's quota). The master key follows no
 * default: it must keep working to change them. Null when nothing limits the key, the common
 * case, which costs the request gate one comparison.
 */
export interface KeyLimits {
  rateLimit: RateLimit | null;
  rateSource: LimitSource;
  quota: Quota | null;
  quotaSource: LimitSource;
}

export const NO_LIMITS: LimitSet = { rateLimit: null, quota: null };

export function keyLimits(own: LimitSet, defaults: LimitSet, isMaster: boolean): KeyLimits | null {
  const fallback = isMaster ? NO_LIMITS : defaults;
  const rateLimit = own.rateLimit ?? fallback.rateLimit;
  const quota = own.quota ?? fallback.quota;
  if (rateLimit === null && quota === null) return null;
  return {
    rateLimit,
    rateSource: own.rateLimit ? 'key' : 'account',
    quota,
    quotaSource: own.quota ? 'key' : 'account',
  };
}

/** Whether two limit sets in effect are the same (the key cache keeps its entry if so). */
export function sameLimits(a: KeyLimits | null, b: KeyLimits | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.rateSource === b.rateSource &&
    a.quotaSource === b.quotaSource &&
    a.rateLimit?.limit === b.rateLimit?.limit &&
    a.rateLimit?.windowSeconds === b.rateLimit?.windowSeconds &&
    sameQuota(a.quota, b.quota)
  );
}

export function sameQuota(a: Quota | null, b: Quota | null): boolean {
  if (a === null || b === null) return a === b;
  return a.requests === b.requests && a.volumeBytes === b.volumeBytes && a.period === b.period;
}

/** The five columns that store a LimitSet, in this order, on api_keys and on accounts. */
export const LIMIT_COLUMNS = [
  'rate_limit',
  'rate_window_seconds',
  'quota_requests',
  'quota_volume',
  'quota_period',
] as const;

const orNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

/** A LimitSet from its five columns (BIGINTs come back as strings on PostgreSQL). */
export function limitSetOf([
  limit,
  windowSeconds,
  requests,
  volume,
  period,
]: readonly unknown[]): LimitSet {
  return {
    rateLimit:
      limit === null || limit === undefined
        ? null
        : { limit: Number(limit), windowSeconds: Number(windowSeconds) },
    quota:
      period === null || period === undefined
        ? null
        : {
            requests: orNull(requests),
            volumeBytes: orNull(volume),
            period: period as QuotaPeriod,
          },
  };
}

/** The five fields of a LimitSet as Prisma writes them, each only when it changes. */
export interface LimitFieldValues {
  rateLimit?: number | null;
  rateWindowSeconds?: number | null;
  quotaRequests?: bigint | null;
  quotaVolume?: bigint | null;
  quotaPeriod?: string | null;
}

/** The fields to write for the limits in `set` (absent ones unchanged, null ones removed). */
export function limitFields(set: Partial<LimitSet>): LimitFieldValues {
  const fields: LimitFieldValues = {};
  if (set.rateLimit !== undefined) {
    fields.rateLimit = set.rateLimit?.limit ?? null;
    fields.rateWindowSeconds = set.rateLimit?.windowSeconds ?? null;
  }
  if (set.quota !== undefined) {
    const quota = set.quota;
    fields.quotaRequests = quota?.requests == null ? null : BigInt(quota.requests);
    fields.quotaVolume = quota?.volumeBytes == null ? null : BigInt(quota.volumeBytes);
    fields.quotaPeriod = quota?.period ?? null;
  }
  return fields;
}

/** The five fields of a LimitSet as Prisma selects them (on ApiKey and on Account). */
export const LIMIT_SELECT = {
  rateLimit: true,
  rateWindowSeconds: true,
  quotaRequests: true,
  quotaVolume: true,
  quotaPeriod: true,
} as const;

export interface LimitRow {
  rateLimit: number | null;
  rateWindowSeconds: number | null;
  quotaRequests: bigint | null;
  quotaVolume: bigint | null;
  quotaPeriod: string | null;
}

export const limitSetOfRow = (row: LimitRow): LimitSet =>
  limitSetOf([
    row.rateLimit,
    row.rateWindowSeconds,
    row.quotaRequests,
    row.quotaVolume,
    row.quotaPeriod,
  ]);

/** A limit as sent: what a DTO holds once validated (each field optional, null removes). */
export interface LimitInput {
  rateLimit?: RateLimit | null;
  quota?: { requests?: number; volumeBytes?: number; period: Quota['period'] } | null;
}

export class LimitsError extends Error {}

/**
 * The changes a body asks for: only the fields it sent (null: remove). A quota must limit
 * something: requests, bytes or both.
 */
export function limitChanges(input: LimitInput): Partial<LimitSet> {
  const changes: Partial<LimitSet> = {};
  if (input.rateLimit !== undefined) {
    changes.rateLimit = input.rateLimit && {
      limit: input.rateLimit.limit,
      windowSeconds: input.rateLimit.windowSeconds,
    };
  }
  if (input.quota !== undefined) {
    const quota = input.quota;
    if (quota && quota.requests === undefined && quota.volumeBytes === undefined) {
      throw new LimitsError(
        'quota must set requests, volumeBytes or both (or be null to remove it)',
      );
    }
    changes.quota = quota && {
      requests: quota.requests ?? null,
      volumeBytes: quota.volumeBytes ?? null,
      period: quota.period,
    };
  }
  return changes;
}

/**
 * The limits that a change alters, `{field: {before, after}}` for the audit log; null when
 * none does. `after` holds only the fields sent (an absent one is unchanged).
 */
export function changedLimits(
  before: LimitSet,
  after: Partial<LimitSet>,
): Record<string, { before: unknown; after: unknown }> | null {
  const changed: Record<string, { before: unknown; after: unknown }> = {};
  for (const field of ['rateLimit', 'quota'] as const) {
    const now = after[field];
    if (now !== undefined && JSON.stringify(now) !== JSON.stringify(before[field])) {
      changed[field] = { before: before[field], after: now };
    }
  }
  return Object.keys(changed).length > 0 ? changed : null;
}
