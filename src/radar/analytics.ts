/**
 * The statistics of the Radar-compatible `usageAnalytics` document, computed from key totals.
 * Pure: the caller chooses the keys (all of an account's, or one) and serializes the dates.
 */

export interface KeyUsageSummary {
  id: string;
  name: string;
  usageCount: number;
  lastUsedAt: Date | null;
  isActive: boolean;
  createdAt: Date;
  isMaster: boolean;
  /** Only on a key that expires (a rolled key's grace end too). */
  expiresAt?: Date;
}

export type KeyUsageHighlight = Pick<KeyUsageSummary, 'id' | 'name' | 'usageCount' | 'lastUsedAt'>;

export type KeyUsageDetail = KeyUsageHighlight & Pick<KeyUsageSummary, 'isActive' | 'createdAt'>;

export interface UsageAnalytics {
  totalApiKeys: number;
  totalUsage: number;
  activeApiKeys: number;
  inactiveApiKeys: number;
  mostUsedApiKey: KeyUsageHighlight | null;
  leastUsedApiKey: KeyUsageHighlight | null;
  averageUsagePerKey: number;
  apiKeyDetails: KeyUsageDetail[];
}

/** Whether a key admits requests at `nowMs`: active, and not expired (or rolled past its grace). */
export const usableAt = (key: KeyUsageSummary, nowMs: number): boolean =>
  key.isActive && (key.expiresAt === undefined || key.expiresAt.getTime() > nowMs);

/**
 * Statistics over `keys`, in the document's field order; details keep the input order. A key
 * counts as active (and shows `isActive: true`) while it admits requests: an expired key is
 * inactive.
 */
export function computeAnalytics(keys: KeyUsageSummary[], nowMs = Date.now()): UsageAnalytics {
  const totalUsage = keys.reduce((sum, key) => sum + key.usageCount, 0);
  const activeApiKeys = keys.filter((key) => usableAt(key, nowMs)).length;
  const mostUsed = pick(keys, (candidate, best) => candidate.usageCount > best.usageCount);
  const leastUsed = pick(keys, (candidate, best) => candidate.usageCount < best.usageCount);

  return {
    totalApiKeys: keys.length,
    totalUsage,
    activeApiKeys,
    inactiveApiKeys: keys.length - activeApiKeys,
    mostUsedApiKey: mostUsed && highlight(mostUsed),
    leastUsedApiKey: leastUsed && highlight(leastUsed),
    averageUsagePerKey: averageOf(totalUsage, keys.length),
    apiKeyDetails: keys.map((key) => ({
      id: key.id,
      name: key.name,
      usageCount: key.usageCount,
      lastUsedAt: key.lastUsedAt,
      isActive: usableAt(key, nowMs),
      createdAt: key.createdAt,
    })),
  };
}

/**
 * The key that `beats` every other; among equals the earlier-created key, then the smaller id,
 * so the answer does not depend on the order the database returned the keys in.
 */
function pick(
  keys: KeyUsageSummary[],
  beats: (candidate: KeyUsageSummary, best: KeyUsageSummary) => boolean,
): KeyUsageSummary | null {
  let best: KeyUsageSummary | null = null;
  for (const key of keys) {
    if (best === null || beats(key, best) || (!beats(best, key) && isOlder(key, best))) {
      best = key;
    }
  }
  return best;
}

function isOlder(a: KeyUsageSummary, b: KeyUsageSummary): boolean {
  const byCreation = a.createdAt.getTime() - b.createdAt.getTime();
  return byCreation !== 0 ? byCreation < 0 : a.id < b.id;
}

function highlight(key: KeyUsageSummary): KeyUsageHighlight {
  return { id: key.id, name: key.name, usageCount: key.usageCount, lastUsedAt: key.lastUsedAt };
}

/** total / count to 2 decimals, halves rounded up, computed on integers to avoid 1.005 -> 1. */
function averageOf(total: number, count: number): number {
  if (count === 0) return 0;
  return Math.round((total * 100) / count) / 100;
}
